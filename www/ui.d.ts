// Types of ui.js for the TypeScript page.
/** The fields of a step event the funnel shows (the package's StepDetail has them all). */
export interface FunnelStep {
  name: string;
  step?: string;
  mediaType?: string;
  isAuto?: boolean;
  channel?: string;
  code?: string;
  seq: number;
  at: number;
}
export declare function bindUi(target: EventTarget, handlers: { restart: () => void | Promise<void> }): { step(detail: FunnelStep): void };
