// React bindings for gu1-kyc-web. One verification per mounted container: StrictMode's
// mount → unmount → mount shows one iframe and completes once, a change of a mount option
// (status URL, token, session URL, ...) replaces the verification, a change of a callback does
// not, and unmounting destroys it (the in-flight request is aborted, nothing is set afterwards).
import { createElement, useCallback, useEffect, useRef, useState } from "react";
import type { CSSProperties, ReactElement } from "react";
import init, { mount } from "gu1-kyc-web";
import type { KycError, MountOptions, Result, Snapshot, StepDetail, Verification } from "gu1-kyc-web";

export type { KycError, MountOptions, Result, Snapshot, StepDetail, Verification };

/** `mount()`'s options without `container`: the hook provides it. */
export type VerificationOptions = Omit<MountOptions, "container">;

export interface VerificationState {
  /** Put on the element that holds the iframe: `<div ref={ref} />`. */
  ref: (element: HTMLElement | null) => void;
  /** The latest snapshot (null until the first answer). */
  snapshot: Snapshot | null;
  /** The terminal result, once. */
  result: Result | null;
  /** The fatal error, if the verification ended with one. */
  error: KycError | null;
  /** The latest step the hosted page reported (null until the first); `onStep` sees every one. */
  step: StepDetail | null;
  /** The running verification (for `refresh()` and `cancel()`); null when there is none. */
  verification: Verification | null;
}

let ready: Promise<unknown> | null = null;
/** Loads the wasm once for the page; a failed load is retried by the next mount. */
function load(): Promise<unknown> {
  const loading =
    ready ??
    init().catch((e: unknown) => {
      ready = null;
      throw e;
    });
  ready = loading;
  return loading;
}

// The options that define a verification: a change of any of them starts a new one.
const KEYS = ["statusUrl", "token", "sessionUrl", "allow", "cancelUrl", "pollIntervalMs", "timeoutMs", "requestTimeoutMs", "waitSeconds", "title", "height", "readyTimeoutMs"] as const;

function asKycError(e: unknown): KycError {
  if (e instanceof Error && typeof (e as Partial<KycError>).code === "string") return e as KycError;
  const error = new Error(e instanceof Error ? e.message : String(e)) as KycError;
  error.name = "KycError";
  (error as { code: string }).code = "NETWORK";
  return error;
}

/**
 * Mounts a verification into the element given `ref` and follows it: the latest snapshot, the
 * latest step, the result, the fatal error. Callbacks in `options` may change on every render.
 */
export function useVerification(options: VerificationOptions): VerificationState {
  const [element, setElement] = useState<HTMLElement | null>(null);
  const [state, setState] = useState<Omit<VerificationState, "ref">>({ snapshot: null, result: null, error: null, step: null, verification: null });
  const latest = useRef(options);
  latest.current = options;
  const key = JSON.stringify(KEYS.map((k) => options[k] ?? null));

  useEffect(() => {
    if (!element) return;
    let live = true;
    let v: Verification | null = null;
    setState({ snapshot: null, result: null, error: null, step: null, verification: null });
    load().then(
      () => {
        if (!live) return;
        const o = latest.current;
        // Callbacks are read when called, so a new function on a later render is the one used.
        const forwarded: MountOptions = {
          ...o,
          container: element,
          onReady: (d) => latest.current.onReady?.(d),
          onStatus: (s) => {
            if (live) setState((p) => ({ ...p, snapshot: s }));
            latest.current.onStatus?.(s);
          },
          onComplete: (r) => latest.current.onComplete?.(r),
          onStep: (step) => {
            if (live) setState((p) => ({ ...p, step }));
            latest.current.onStep?.(step);
          },
          onError: (e) => latest.current.onError?.(e),
        };
        if (o.refreshToken) forwarded.refreshToken = () => (latest.current.refreshToken ?? o.refreshToken)!();
        try {
          v = mount(forwarded);
        } catch (e) {
          setState((p) => ({ ...p, error: asKycError(e) }));
          return;
        }
        const mounted = v;
        setState((p) => ({ ...p, verification: mounted }));
        mounted.completed.then(
          (r) => live && setState((p) => ({ ...p, snapshot: r, result: r, verification: null })),
          (e: unknown) => live && setState((p) => ({ ...p, error: asKycError(e), verification: null })),
        );
      },
      (e: unknown) => live && setState((p) => ({ ...p, error: asKycError(e) })),
    );
    return () => {
      live = false;
      v?.destroy();
    };
    // `key` stands for the mount options; callbacks are read through `latest`.
  }, [element, key]);

  const ref = useCallback((el: HTMLElement | null) => setElement(el), []);
  return { ref, ...state };
}

export interface Gu1KycProps extends VerificationOptions {
  className?: string;
  style?: CSSProperties;
}

/** A `<div>` holding the verification; the props are `mount()`'s options (no `container`). */
export function Gu1Kyc({ className, style, ...options }: Gu1KycProps): ReactElement {
  const { ref } = useVerification(options);
  return createElement("div", { ref, className, style });
}
