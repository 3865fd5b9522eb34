"""`/metrics` read by Prometheus's own Python client parser (prometheus_client), the format
Prometheus scrapes: every family parses, and a sign-in shows up in the counters and the request
histogram."""

import requests
from prometheus_client.parser import text_string_to_metric_families


def families(server) -> dict:
    resp = requests.get(f"{server.base}/metrics", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(resp.text)}


def value(family, **labels) -> float:
    found = [s.value for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) >= 1, (family.name, labels, family.samples)
    return sum(found)


def test_a_sign_in_is_counted_and_timed(server, browser):
    before = families(server)
    signed_in = value(before["portcullis_signin_attempts"], result="success") if "portcullis_signin_attempts" in before else 0
    browser.sign_in()
    after = families(server)
    attempts = after["portcullis_signin_attempts"]
    assert attempts.type == "counter"
    assert value(attempts, result="success") == signed_in + 1
    duration = after["http_server_request_duration_seconds"]
    assert duration.type == "histogram"
    start = [s for s in duration.samples if s.name.endswith("_count") and s.labels.get("http_route") == "/start"]
    assert start and start[0].value >= 1, duration.samples
    # Buckets are cumulative and end at +Inf with the count.
    buckets = [s for s in duration.samples if s.name.endswith("_bucket") and s.labels.get("http_route") == "/start" and s.labels.get("http_request_method") == "GET"]
    counts = [b.value for b in buckets]
    assert counts == sorted(counts), counts
    assert buckets[-1].labels["le"] == "+Inf"
    assert after["portcullis_sessions_active"].type == "gauge"
