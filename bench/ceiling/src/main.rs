//! A bare axum handler that returns a constant JSON body: the ceiling against which
//! rein's predict throughput is compared, served by the same runtime on the same machine.

use axum::Router;
use axum::routing::post;

// The same allocator as `rein`, so that the comparison is like for like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BODY: &str = r#"{"prediction_id":"0193a0d2-0000-7000-8000-000000000000","output":{"label":"legit","score":0.01},"decision":{"mode":"none"}}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".into());
    let app = Router::new().route(
        "/v1/components/{name}/predict",
        post(|| async { ([(axum::http::header::CONTENT_TYPE, "application/json")], BODY) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("ceiling listening on http://{addr}");
    axum::serve(listener, app).await
}
