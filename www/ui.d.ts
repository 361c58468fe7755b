// Types of ui.js for the TypeScript page.
export declare function bindUi(target: EventTarget, handlers: { restart: () => void | Promise<void> }): void;
