import { mount } from "svelte";
import Verify from "./Verify.svelte";

const s = await (await fetch("/session")).json();
mount(Verify, { target: document.getElementById("app"), props: { statusUrl: s.statusUrl, token: s.token, sessionUrl: `${s.sessionUrl}?auto=approve&delay=300` } });
