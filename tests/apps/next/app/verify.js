"use client";
// The client component: imported (and rendered once) on the server too, so the package's import
// must be safe there; mounting happens in an effect, in the browser only.
import { useEffect, useRef } from "react";
import init, { mount } from "gu1-kyc-web";

export default function Verify() {
  const ref = useRef(null);
  useEffect(() => {
    let v = null;
    let gone = false;
    (async () => {
      const s = await (await fetch("/session")).json();
      await init();
      if (gone) return;
      v = mount({ container: ref.current, statusUrl: s.statusUrl, token: s.token, sessionUrl: `${s.sessionUrl}?auto=approve&delay=300`, pollIntervalMs: 300 });
      const r = await v.completed;
      window.__result = { status: r.status, iframes: document.querySelectorAll("iframe").length };
    })().catch((e) => {
      if (e?.code !== "DESTROYED") window.__result = { error: String(e?.message) };
    });
    return () => {
      gone = true;
      v?.destroy();
    };
  }, []);
  return <div id="kyc" ref={ref} />;
}
