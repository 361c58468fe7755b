import { createApp } from "vue";
import Verify from "./Verify.vue";

const s = await (await fetch("/session")).json();
createApp(Verify, { statusUrl: s.statusUrl, token: s.token, sessionUrl: `${s.sessionUrl}?auto=approve&delay=300` }).mount("#app");
