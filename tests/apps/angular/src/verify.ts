import { type AfterViewInit, Component, CUSTOM_ELEMENTS_SCHEMA, type ElementRef, type OnDestroy, input, signal, viewChild } from "@angular/core";

// <gu1-kyc> is a custom element (the drop-in defines it), not an Angular component: the schema
// lets the template use it and bind its properties ([token]) and attributes ([attr.status-url]).
@Component({
  selector: "app-verify",
  schemas: [CUSTOM_ELEMENTS_SCHEMA],
  template: `
    <gu1-kyc #kyc [attr.status-url]="statusUrl()" [token]="token()" [attr.session-url]="sessionUrl()"
             poll-interval-ms="300"></gu1-kyc>
    <p id="status">{{ status() }}</p>
  `,
})
export class Verify implements AfterViewInit, OnDestroy {
  statusUrl = input.required<string>();
  token = input.required<string>();
  sessionUrl = input<string>();
  status = signal("waiting");
  private kyc = viewChild.required<ElementRef<HTMLElement>>("kyc");

  // Angular reads `(a:b)` as the event b of a global target a (window, document, body): the
  // element's events, whose names have a colon, are listened to in code.
  private onStatus = (e: Event) => this.status.set((e as CustomEvent).detail.status);
  private onComplete = (e: Event) => {
    const status = (e as CustomEvent).detail.status;
    this.status.set(status);
    Object.assign(window, { __result: { status, iframes: document.querySelectorAll("iframe").length } });
  };

  ngAfterViewInit() {
    this.kyc().nativeElement.addEventListener("gu1kyc:status", this.onStatus);
    this.kyc().nativeElement.addEventListener("gu1kyc:complete", this.onComplete);
  }

  ngOnDestroy() {
    this.kyc().nativeElement.removeEventListener("gu1kyc:status", this.onStatus);
    this.kyc().nativeElement.removeEventListener("gu1kyc:complete", this.onComplete);
  }
}
