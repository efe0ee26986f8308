//! Benchmark of the `http` capability (run with `cargo bench -p orch --bench http` after
//! `scripts/build-packs`): the same GET of a small body from a local axum server
//! (a) with a native reqwest client reused across requests (the baseline), and
//! (b) through the host: `Runtime::invoke` of `broker.http_request` in a fresh sandbox, with
//!     the grant check, resolution and address check, the pinned client from the cache, the
//!     body cap and masking (what one pack call costs end to end);
//! plus (c) building one reqwest client the way the capability does, the cost its client
//! cache avoids on every request after the first to a destination, and (d) the same request as
//! (b) sent by the pack through the standard `wasi:http/outgoing-handler` (brokered by the same
//! code; what a componentize-js `fetch` or another standard client costs).
//!
//! Prints the median (and p90) of each, and the ratios (b)/(a) and (d)/(b).

#[path = "support/guests.rs"]
mod guests;
#[path = "support/hosted.rs"]
mod hosted;
#[path = "support/sampling.rs"]
mod sampling;
use hosted::Hosted;
use sampling::{Figure, count, sample};

use orch::vault::MasterKey;
use serde_json::json;

const FULL_WARMUP: usize = 200;
const FULL_SAMPLES: usize = 2000;
const BODY: &str = "hello from the bench server";

fn show(label: &str, Figure { median, p90 }: Figure) {
    println!(
        "{label:<48} median {:>9.1} µs   p90 {:>9.1} µs",
        median.as_secs_f64() * 1e6,
        p90.as_secs_f64() * 1e6
    );
}

fn main() {
    let (warmup, samples) = (count(FULL_WARMUP), count(FULL_SAMPLES));
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio");

    // The server, on the same runtime (as a local API would be on another core).
    let app = axum::Router::new().route("/small", axum::routing::get(|| async { BODY }));
    let port = hosted::serve_locally(&tokio, app);
    let url = format!("http://127.0.0.1:{port}/small");

    // (a) native reqwest, one client reused.
    let native = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let native_figure = tokio.block_on(sample(warmup, samples, || {
        let native = &native;
        let url = &url;
        async move {
            let body = native
                .get(url)
                .send()
                .await
                .expect("send")
                .bytes()
                .await
                .expect("body");
            assert_eq!(&body[..], BODY.as_bytes());
        }
    }));

    // (b) through the host.
    let hosted = Hosted::with_broker(&tokio);
    hosted
        .store
        .add_grants("broker", &[format!("http:http://127.0.0.1:{port}")])
        .expect("grant");
    let invoker = hosted.invoker(MasterKey::generate().expect("key"));
    let input = json!({ "url": url }).to_string();
    let host_figure = tokio.block_on(sample(warmup, samples, || async {
        let output = invoker.call("http_request", &input).await;
        assert!(output.contains(BODY), "{output}");
    }));

    // (d) the same through wasi:http (the wasmtime-wasi-http resources around the broker).
    let wasi_input = json!({ "url": url, "via": "wasi" }).to_string();
    let wasi_figure = tokio.block_on(sample(warmup, samples, || async {
        let output = invoker.call("http_request", &wasi_input).await;
        assert!(output.contains(BODY), "{output}");
    }));

    // (c) what the client cache saves: building one client.
    let build_figure = tokio.block_on(sample(warmup, samples, || async {
        let client = orch::capabilities::http::build_client_for_bench().expect("client");
        std::hint::black_box(client);
    }));

    println!(
        "GET of a {}-byte body from a local axum server, {samples} samples after {warmup} warm-up:",
        BODY.len()
    );
    show("(a) native reqwest, client reused", native_figure);
    show("(b) through the host (broker.http_request)", host_figure);
    show("(c) building one capability client", build_figure);
    show("(d) through wasi:http (broker.http_request)", wasi_figure);
    println!(
        "ratio (b)/(a): {:.1}x   (b)-(a): {:.1} µs",
        host_figure.median.as_secs_f64() / native_figure.median.as_secs_f64(),
        (host_figure.median.as_secs_f64() - native_figure.median.as_secs_f64()) * 1e6
    );
    println!(
        "ratio (d)/(b): {:.2}x   (d)-(b): {:.1} µs",
        wasi_figure.median.as_secs_f64() / host_figure.median.as_secs_f64(),
        (wasi_figure.median.as_secs_f64() - host_figure.median.as_secs_f64()) * 1e6
    );
}
