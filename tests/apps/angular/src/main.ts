import { Component } from "@angular/core";
import { bootstrapApplication } from "@angular/platform-browser";
import { Verify } from "./verify";

const s = await (await fetch("/session")).json();
const session = { statusUrl: s.statusUrl, token: s.token, sessionUrl: `${s.sessionUrl}?auto=approve&delay=300` };

@Component({
  selector: "app-root",
  imports: [Verify],
  template: `<app-verify [statusUrl]="session.statusUrl" [token]="session.token" [sessionUrl]="session.sessionUrl" />`,
})
class App {
  session = session;
}

bootstrapApplication(App);
