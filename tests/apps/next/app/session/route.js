// The app's backend: a new verification from the simulator (as a backend asks gu1 and mints the
// page's token).
export const dynamic = "force-dynamic";

export async function GET() {
  const r = await fetch(`${process.env.GU1_SIM_URL}/__control/sessions`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
  return new Response(await r.text(), { status: r.status, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });
}
