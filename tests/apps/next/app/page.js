// A server component: the server render imports the package (nothing in it may touch `window`)
// and says what it saw; the client component below mounts the verification in the browser.
import * as kyc from "gu1-kyc-web";
import Verify from "./verify.js";

export const dynamic = "force-dynamic";

export default function Page() {
  let refusal = "";
  try {
    kyc.mount({ container: "#kyc", statusUrl: "/kyc/status" });
  } catch (e) {
    refusal = `${e.name} ${e.code}`;
  }
  return (
    <main>
      <p id="ssr">server render: mount is a {typeof kyc.mount}; mount() here: {refusal}</p>
      <Verify />
    </main>
  );
}
