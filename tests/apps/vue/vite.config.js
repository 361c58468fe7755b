import vue from "@vitejs/plugin-vue";

// <gu1-kyc> is a custom element, not a Vue component.
export default { plugins: [vue({ template: { compilerOptions: { isCustomElement: (tag) => tag === "gu1-kyc" } } })] };
