//! Leak suite: many mount/destroy cycles and full verifications, counting iframes, listeners,
//! timers, requests after destroy, and the library's live heap allocations (the allocator counts
//! them in debug builds: one byte kept per cycle shows). Prints its figures (run with
//! `--nocapture`). Run by `scripts/test.sh` in headless Chromium, Firefox and WebKit.
#![cfg(target_arch = "wasm32")]

mod support;

use gu1_kyc_web::alloc::live;
use gu1_kyc_web::mount;
use support::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_thousand_mount_destroy_cycles_leave_nothing() {
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let url = sim.session_url();
    let mut warm = (0, 0);
    let (timers0, msg0, vis0, load0) = (
        timer_count(),
        listener_count("message"),
        listener_count("visibilitychange"),
        listener_count("load"),
    );
    // Ten mount/destroy pairs per task, as a page reacting to events would do them: each mount
    // queues its first poll as a task, so a thousand in one task would measure the queue.
    let opts = rec.options(&sim, &format!(r#"{{"sessionUrl":"{url}"}}"#));
    for n in 0..100 {
        if n == 10 {
            sleep(300).await;
            warm = live();
        }
        for _ in 0..10 {
            let v = mount(opts.clone()).expect("mount");
            v.destroy();
        }
        sleep(0).await;
    }
    sleep(300).await;
    let after = live();
    let requests_after_destroy = {
        let n = sim.requests("status").await;
        sleep(500).await;
        sim.requests("status").await - n
    };
    print(
        &format!(
            "leaks: 1000 mount/destroy cycles: iframes left {}, listeners message {}->{} visibilitychange {}->{} load {}->{}, \
             timers {}->{}, status requests reaching the proxy {}, requests after destroy {}, \
             live allocations after 100 cycles {:?}, after 1000 {:?} (count, bytes)",
            all_iframes(),
            msg0,
            listener_count("message"),
            vis0,
            listener_count("visibilitychange"),
            load0,
            listener_count("load"),
            timers0,
            timer_count(),
            sim.requests("status").await,
            requests_after_destroy,
            warm,
            after
        ),
    );
    assert_eq!(all_iframes(), 0);
    assert_eq!(listener_count("message"), msg0);
    assert_eq!(listener_count("visibilitychange"), vis0);
    assert_eq!(listener_count("load"), load0);
    assert_eq!(timer_count(), timers0);
    assert_eq!(requests_after_destroy, 0);
    assert_eq!(
        after, warm,
        "900 mount/destroy cycles keep no allocation (count, bytes)"
    );
    rec.done_without();
}

/// A page that destroys but never calls `free()` (nothing requires it) and never
/// sees a collection run: `forget` keeps the wasm-bindgen handle's allocation, as an unfreed JS
/// `Verification` does until a finalizer runs, which is never guaranteed. What that handle still
/// holds after destroy() is its husk: one small allocation (`completed`, the last snapshot, the
/// empty driver slot, the key), nothing else.
#[wasm_bindgen_test]
async fn a_thousand_destroyed_but_never_freed_verifications_hold_only_their_husks() {
    /// The husk's allocation: two reference counts and four small fields.
    const HUSK: usize = 48;
    let sim = Sim::new("{}").await;
    let rec = Rec::new();
    let url = sim.session_url();
    let mut warm = (0, 0);
    // Ten per task, as in a_thousand_mount_destroy_cycles_leave_nothing. Nothing is collected:
    // `forget` means no finalizer, so what destroy() leaves behind is all that is measured.
    let opts = rec.options(&sim, &format!(r#"{{"sessionUrl":"{url}"}}"#));
    for n in 0..100 {
        if n == 10 {
            sleep(300).await;
            warm = live();
        }
        for _ in 0..10 {
            let v = mount(opts.clone()).expect("mount");
            v.destroy();
            std::mem::forget(v);
        }
        sleep(0).await;
    }
    sleep(300).await;
    let after = live();
    let (count, bytes) = (after.0 - warm.0, after.1 - warm.1);
    print(&format!(
        "leaks: 1000 mount/destroy cycles never freed: iframes left {}, live allocations after \
         100 cycles {warm:?}, after 1000 {after:?}: {count} more, {bytes} B (about {} B a cycle)",
        all_iframes(),
        bytes / 900,
    ));
    assert_eq!(all_iframes(), 0);
    assert_eq!(
        count, 900,
        "one allocation (the husk) per destroyed, unfreed verification: destroy() must release \
         everything else the handle holds"
    );
    assert!(
        bytes <= 900 * HUSK,
        "each husk at most {HUSK} B: {bytes} B for 900"
    );
    rec.done_without();
}

#[wasm_bindgen_test]
async fn two_hundred_full_verifications_leave_nothing() {
    let (timers0, msg0, vis0) = (
        timer_count(),
        listener_count("message"),
        listener_count("visibilitychange"),
    );
    let mut warm = (0, 0);
    let mut completed = 0;
    for batch in 0..10 {
        let mut running = Vec::new();
        for _ in 0..20 {
            let sim =
                Sim::new(r#"{"script":[{"status":"in_progress"},{"status":"approved"}]}"#).await;
            let rec = Rec::new();
            let v = mount(rec.options(&sim, r#"{"pollIntervalMs":100}"#)).expect("mount");
            running.push((rec, v));
        }
        for (rec, v) in running {
            let r = settle(&v.completed(), 10_000).await;
            assert_eq!(r.status(), "approved");
            assert_eq!(rec.count("gu1kyc:complete"), 1);
            completed += 1;
            rec.done(v);
        }
        if batch == 1 {
            sleep(100).await;
            warm = live();
        }
    }
    sleep(200).await;
    let after = live();
    print(
        &format!(
            "leaks: {completed} full verifications: iframes left {}, listeners message {}->{} visibilitychange {}->{}, \
             timers {}->{}, live allocations after 40 {:?}, after 200 {:?} (count, bytes)",
            all_iframes(),
            msg0,
            listener_count("message"),
            vis0,
            listener_count("visibilitychange"),
            timers0,
            timer_count(),
            warm,
            after
        ),
    );
    assert_eq!(completed, 200);
    assert_eq!(all_iframes(), 0);
    assert_eq!(listener_count("message"), msg0);
    assert_eq!(listener_count("visibilitychange"), vis0);
    assert_eq!(timer_count(), timers0);
    assert_eq!(
        after.0, warm.0,
        "160 full verifications keep no allocation: {warm:?} -> {after:?} (count, bytes)"
    );
    // The bytes may move by what the test harness's own buffers take (WebKit: +1 024 B once,
    // measured); a buffer the library kept growing would show here.
    assert!(
        after.1 <= warm.1 + 2_048,
        "160 full verifications keep no bytes: {warm:?} -> {after:?} (count, bytes)"
    );
}
