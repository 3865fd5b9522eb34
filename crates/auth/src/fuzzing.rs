//! What the fuzz entry points of every surface share (docs/design/fuzzing.md). Not an API:
//! nothing but the `fuzzing` modules and `fuzz/` call these.

use std::future::Future;

use actix_web::HttpResponse;

/// The value of `r`, or a panic naming `what` (fixtures only: they are built from constants).
pub fn must<T, E: std::fmt::Debug>(r: Result<T, E>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("fuzz fixture {what}: {e:?}"),
    }
}

/// Polls a future that never waits (nothing here does I/O) to completion.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1_000 {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("a future that should complete at once kept waiting");
}

/// The body of a response (all of ours are in memory).
pub fn body_of(resp: HttpResponse) -> Vec<u8> {
    must(
        block_on(actix_web::body::to_bytes(resp.into_body())),
        "response body",
    )
    .to_vec()
}
