// Writes the publishable API key into the ConfigMap the chart created
// (default "medusa-publishable-key", key "token"), with the Job's own
// service account token. Only patch on that one ConfigMap is allowed by RBAC.
"use strict"
const fs = require("fs")
const https = require("https")

const SA = "/var/run/secrets/kubernetes.io/serviceaccount"
const name = process.env.PUBLISHABLE_KEY_CONFIGMAP || "medusa-publishable-key"
const file = process.argv[2] || "/tmp/setup/publishable-key"
const token = fs.readFileSync(file, "utf8").trim()
if (!token.startsWith("pk_")) {
  console.error(`no publishable key in ${file}`)
  process.exit(1)
}
const namespace = fs.readFileSync(`${SA}/namespace`, "utf8").trim()
const body = JSON.stringify({ data: { token } })
const req = https.request({
  host: process.env.KUBERNETES_SERVICE_HOST,
  port: process.env.KUBERNETES_SERVICE_PORT || 443,
  method: "PATCH",
  path: `/api/v1/namespaces/${namespace}/configmaps/${name}`,
  ca: fs.readFileSync(`${SA}/ca.crt`),
  headers: {
    Authorization: `Bearer ${fs.readFileSync(`${SA}/token`, "utf8").trim()}`,
    "Content-Type": "application/merge-patch+json",
    "Content-Length": Buffer.byteLength(body),
  },
}, (res) => {
  let out = ""
  res.on("data", (d) => (out += d))
  res.on("end", () => {
    if (res.statusCode >= 200 && res.statusCode < 300) {
      console.log(`publishable key written to configmap/${name}`)
    } else {
      console.error(`PATCH configmap/${name}: HTTP ${res.statusCode} ${out}`)
      process.exit(1)
    }
  })
})
req.on("error", (e) => { console.error(e.message); process.exit(1) })
req.end(body)
