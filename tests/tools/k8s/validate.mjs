// Validates Kubernetes objects against the API's OpenAPI schemas (as compiled
// into the npm package kubernetes-models): types, required fields, formats
// (quantities, int32, ...), enums. Unknown fields are not rejected (like
// kubeconform without -strict); tests/integration/packaging_k8s.py checks the
// fields that matter by name.
//   node validate.mjs < objects.json     (a JSON array of objects)
// Prints one line per object, "ok KIND/NAME" or "error KIND/NAME: why";
// exit 1 if any is invalid or of a kind it has no schema for.
import { readFileSync } from "node:fs";

const objs = JSON.parse(readFileSync(0, "utf8"));
let bad = 0;
for (const o of objs) {
  const what = `${o.kind}/${o.metadata?.name ?? "?"}`;
  const gv = o.apiVersion ?? "";
  const path = gv.includes("/") ? gv : `v1`;   // core group: kubernetes-models/v1/Kind
  let mod;
  try {
    mod = await import(`kubernetes-models/${path}/${o.kind}`);
  } catch (e) {
    console.log(`error ${what}: no schema for ${gv} ${o.kind}`);
    bad++;
    continue;
  }
  try {
    new mod[o.kind](o).validate();
    console.log(`ok ${what}`);
  } catch (e) {
    console.log(`error ${what}: ${String(e.message ?? e).replace(/\s+/g, " ")}`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
