//! What every admin API operation can answer besides its own results, added to the generated
//! OpenAPI document in one place so no handler can forget it: `401` (no or a bad token) on
//! every operation; `400`, `413` and — for JSON bodies — `415` on every operation that takes a
//! body; `400` wherever a path or query parameter is parsed. All are the API's error JSON.

use utoipa::Modify;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// The [`Modify`] that adds the shared error responses.
pub struct SharedErrors;

fn error(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| error(description));
}

fn shared_errors(op: &mut Operation) {
    add(
        op,
        "401",
        "No `Authorization: Bearer` admin token, or one that is unknown, revoked or expired.",
    );
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    if let Some(body) = &op.request_body {
        let json = body.content.keys().any(|k| k == "application/json");
        add(
            op,
            "400",
            "The body or a parameter is invalid; `fields` names each one.",
        );
        add(
            op,
            "413",
            "The body is larger than the configured limit (`admin.max_body_bytes`).",
        );
        if json {
            add(
                op,
                "415",
                "The body is not JSON (`Content-Type: application/json` is required).",
            );
        }
    } else if has_params {
        add(
            op,
            "400",
            "A parameter is invalid; `fields` names each one.",
        );
    }
}

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                shared_errors(op);
            }
        }
    }
}
