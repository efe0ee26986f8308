//! The web console in a real browser: headless Chromium driven through WebDriver
//! (`chromedriver`, Debian's `chromium-driver`, started and stopped here) against a real `orch
//! serve` over the drift lab (a fakenos R1 and the ServiceNow stand-in). A person's path:
//! sign in with a token; see the packs; open `config-drift`, select a task and read its three
//! views; start a run from the form; watch it reach its question without reloading; answer it
//! in the form; see the run succeed and the new golden version in the catalog with its diff.
//! Then: a forged POST without the session's CSRF token is refused (from the console's pages
//! and through the API with the cookie), and a viewer's session shows no button that would
//! fail. Screenshots of the main pages go to `target/tmp/console-screenshots/`.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::drift::{DRIFT_LINE, Lab};
use crate::harness::TestHost;
use crate::server::{Server, path_str, rules_dir};

/// A `chromedriver` on a free port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Self {
        let port = crate::peers::free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start chromedriver ({e}); install chromium and chromium-driver (scripts/setup does)")
            });
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"] }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a browser session")
}

/// Saves a screenshot of the page as `name.png` for a person to look at.
async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("writing the screenshot");
}

/// The text of `css`, found again if the live run page replaced it meanwhile.
async fn text(c: &Client, css: &str) -> String {
    for _ in 0..20 {
        if let Ok(el) = c.find(Locator::Css(css)).await
            && let Ok(text) = el.text().await
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match c.find(Locator::Css(css)).await {
        Ok(el) => el.text().await.expect("text"),
        Err(e) => {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let page = c.source().await.unwrap_or_default();
            panic!("no {css} on {url}: {e}\n{page}")
        }
    }
}

/// Waits up to `secs` for `css` to be on the page (without reloading it).
async fn wait_for(c: &Client, css: &str, secs: u64) {
    c.wait()
        .at_most(Duration::from_secs(secs))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear in {secs} s: {e}"));
}

async fn sign_in(c: &Client, base: &str, token: &str) {
    c.goto(&format!("{base}/runs")).await.expect("goto");
    let url = c.current_url().await.expect("url");
    assert_eq!(
        url.path(),
        "/login",
        "an anonymous visit is sent to sign in"
    );
    type_in(c, "#token", token).await;
    click(c, "form button[type=submit]").await;
    // The sign-in page has a heading too: wait for the navigation itself, not for an element
    // (on a loaded machine the old page is still there when the click returns).
    let started = Instant::now();
    loop {
        let url = c.current_url().await.expect("url");
        if url.path() == "/runs" {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let page = c.source().await.unwrap_or_default();
            panic!("signing in did not reach /runs (still at {url}):\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for(c, "form.filters", 10).await;
}

/// Clicks the element `css` names.
async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} to click: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

/// Types `text` into the field `css` names.
async fn type_in(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no field {css}: {e}"))
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("typing in {css}: {e}"));
}

/// `fetch` from the page: a POST to `path` with `body` and `headers`; the status.
async fn post_from_page(c: &Client, path: &str, body: &str, headers: Value) -> u16 {
    let status = c
        .execute_async(
            "const [path, body, headers, done] = arguments;
             fetch(path, {method: 'POST', body, headers, credentials: 'same-origin'})
               .then(r => done(r.status), e => done(String(e)));",
            vec![json!(path), json!(body), headers],
        )
        .await
        .expect("a fetch from the page");
    u16::try_from(
        status
            .as_u64()
            .unwrap_or_else(|| panic!("fetch failed: {status}")),
    )
    .expect("status")
}

#[test]
fn a_person_runs_watches_and_answers_config_drift_in_the_browser() {
    let lab = Lab::r1();
    lab.baseline();
    lab.drift_r1();
    let token = |name: &str, role: &str| {
        lab.orch(&["token", "create", name, "--role", role])
            .ok()
            .trim()
            .to_owned()
    };
    let (operator, viewer) = (token("ops", "operator"), token("watcher", "viewer"));
    let rules = rules_dir(&[]);
    let server = Server::start(
        &lab.host,
        &[
            "--workflows",
            &path_str(&TestHost::examples()),
            "--rules",
            &path_str(rules.path()),
            "--host-key-policy",
            "accept-new",
        ],
    );
    let base = format!("http://{}", server.http);
    let driver = Driver::start();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let c = browser(&driver).await;
        // A bad token is refused on the sign-in page, with the reason.
        c.goto(&format!("{base}/login")).await.expect("goto");
        type_in(&c, "#token", "orch_nope").await;
        click(&c, "form button[type=submit]").await;
        wait_for(&c, "#problem", 10).await;
        assert!(
            text(&c, "#problem").await.contains("unknown"),
            "{}",
            text(&c, "#problem").await
        );

        sign_in(&c, &base, &operator).await;
        screenshot(&c, "runs").await;

        // The library: the packs with their actions.
        c.goto(&format!("{base}/packs")).await.expect("goto");
        assert!(text(&c, "main").await.contains("netdev"));
        c.goto(&format!("{base}/packs/netdev")).await.expect("goto");
        let pack = text(&c, "main").await;
        assert!(
            pack.contains("get_running_config") && pack.contains("Destinations asked for"),
            "{pack}"
        );
        screenshot(&c, "pack").await;

        // The workflow: its graph, a task's three views.
        c.goto(&format!("{base}/workflows/config-drift"))
            .await
            .expect("goto");
        c.find(Locator::Css("svg.graph .task[data-task=\"decide\"]"))
            .await
            .expect("the decide task")
            .click()
            .await
            .expect("click");
        let view = c
            .find(Locator::Css(".task-view[data-task=\"decide\"]"))
            .await
            .expect("its view");
        assert!(
            view.is_displayed().await.expect("shown"),
            "selecting the task shows its panel"
        );
        let input = view.text().await.expect("text");
        assert!(
            input.contains("core.ask") && input.contains("prompt"),
            "{input}"
        );
        view.find(Locator::Css("button[data-view=\"properties\"]"))
            .await
            .expect("tab")
            .click()
            .await
            .expect("click");
        view.find(Locator::Css("button[data-view=\"transitions\"]"))
            .await
            .expect("tab")
            .click()
            .await
            .expect("click");
        let transitions = view
            .find(Locator::Css(".view[data-view=\"transitions\"]"))
            .await
            .expect("view");
        assert!(transitions.is_displayed().await.expect("shown"));
        let t = transitions.text().await.expect("text");
        assert!(
            t.contains("result().keep") && t.contains("create_ticket"),
            "{t}"
        );
        screenshot(&c, "workflow").await;

        // Run it from the form.
        for (field, value) in [
            ("device", "R1".to_owned()),
            ("config_user", "jdoe".to_owned()),
            ("servicenow_instance", lab.snow.url()),
        ] {
            type_in(&c, &format!("#input-{field}"), &value).await;
        }
        click(&c, "#run-form button[type=submit]").await;
        wait_for(&c, "#live", 10).await;
        let url = c.current_url().await.expect("url");
        let run = url.path().trim_start_matches("/runs/").to_owned();
        assert!(!run.is_empty() && !run.contains('/'), "{url}");

        // The question appears without a reload: a marker set on this page survives.
        c.execute("window.__sameDocument = 42;", vec![])
            .await
            .expect("marker");
        wait_for(&c, "#ask-decide form.answer", 90).await;
        let marker = c
            .execute("return window.__sameDocument;", vec![])
            .await
            .expect("marker");
        assert_eq!(
            marker,
            json!(42),
            "the page was reloaded to show the question"
        );
        assert!(text(&c, "#ask-decide .prompt").await.contains("drifted"));
        assert!(text(&c, "#run-status").await.contains("waiting"));
        screenshot(&c, "run-waiting").await;

        // A forged POST (no CSRF token) is refused, from the page and through the API.
        let forged = post_from_page(
            &c,
            &format!("/runs/{run}/cancel"),
            "csrf=forged",
            json!({"content-type": "application/x-www-form-urlencoded"}),
        )
        .await;
        assert_eq!(forged, 403, "a form without the session's CSRF token");
        let api = post_from_page(&c, &format!("/api/v1/runs/{run}/cancel"), "", json!({})).await;
        assert_eq!(api, 403, "an API call with the cookie and no X-CSRF-Token");
        assert!(
            text(&c, "#run-status").await.contains("waiting"),
            "nothing was canceled"
        );

        // Answer in the form.
        click(&c, "#answer-keep").await;
        click(&c, "#answer-decide-submit").await;
        let started = Instant::now();
        loop {
            let status = text(&c, "#run-status").await;
            if status.contains("succeeded") {
                break;
            }
            assert!(
                !status.contains("failed") && started.elapsed() < Duration::from_secs(90),
                "the run did not succeed: {status}\n{}",
                server.stderr()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(text(&c, "#output").await.contains("keep"));
        assert!(
            c.find(Locator::Css("svg.timeline")).await.is_ok(),
            "a timeline"
        );
        screenshot(&c, "run-succeeded").await;

        // The new golden version, and its diff with the first.
        c.goto(&format!("{base}/catalog/configs/R1/golden?a=1&b=2"))
            .await
            .expect("goto");
        let diff = text(&c, "#diff").await;
        assert!(diff.contains(&format!("+ {DRIFT_LINE}")), "{diff}");
        screenshot(&c, "record-diff").await;
        c.goto(&format!(
            "{base}/catalog/configs/R1/golden?a=1&b=2&view=split"
        ))
        .await
        .expect("goto");
        assert!(text(&c, "#diff").await.contains(DRIFT_LINE));
        c.goto(&format!("{base}/catalog")).await.expect("goto");
        assert!(text(&c, "#inventory").await.contains("R1"));
        screenshot(&c, "catalog").await;
        c.goto(&format!("{base}/runs")).await.expect("goto");
        assert!(
            text(&c, "#runs").await.contains("console:ops"),
            "who started it"
        );
        // On a narrow screen the page still fits its width (no sideways scrolling of the page).
        c.set_window_size(390, 844).await.expect("narrow window");
        c.goto(&format!("{base}/runs/{run}")).await.expect("goto");
        let overflow = c
            .execute(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await
            .expect("widths");
        assert!(
            overflow.as_i64().unwrap_or(0) <= 0,
            "the page is wider than the screen by {overflow}px"
        );
        screenshot(&c, "run-narrow").await;
        c.set_window_size(1280, 800).await.expect("window");

        // Sign out; a viewer sees the run without a button that would fail.
        click(&c, ".who button").await;
        wait_for(&c, "#token", 10).await;
        sign_in(&c, &base, &viewer).await;
        c.goto(&format!("{base}/runs/{run}")).await.expect("goto");
        assert!(text(&c, "#run-status").await.contains("succeeded"));
        for css in ["#cancel", "#resume", "#rerun", "form.answer"] {
            assert!(
                c.find(Locator::Css(css)).await.is_err(),
                "a viewer sees {css}"
            );
        }
        c.goto(&format!("{base}/workflows/config-drift"))
            .await
            .expect("goto");
        assert!(
            c.find(Locator::Css("#run-form")).await.is_err(),
            "a viewer has no Run form"
        );
        c.close().await.expect("closing the browser");
    });
    assert_eq!(lab.history("R1/golden").len(), 2);
}
