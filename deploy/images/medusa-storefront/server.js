// Minimal Storefleet storefront for a Medusa v2 store: product list, cart and
// checkout rendered on the server against the Store API (no client JS, no deps).
"use strict"
const http = require("http")
const fs = require("fs")

const PORT = Number(process.env.PORT || 8000)
const BACKEND = (process.env.MEDUSA_BACKEND_URL || "http://localhost:9000").replace(/\/$/, "")
const KEY_FILE = process.env.PUBLISHABLE_KEY_FILE || "/config/token"
const STORE_NAME = process.env.STORE_NAME || "Storefleet store"

function publishableKey() {
  if (process.env.PUBLISHABLE_KEY) return process.env.PUBLISHABLE_KEY
  try { return fs.readFileSync(KEY_FILE, "utf8").trim() } catch { return "" }
}

async function api(method, path, body) {
  const res = await fetch(BACKEND + path, {
    method,
    headers: { "content-type": "application/json", "x-publishable-api-key": publishableKey() },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let json = {}
  try { json = text ? JSON.parse(text) : {} } catch { json = { message: text } }
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.message || text}`)
  return json
}

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]))
const money = (amount, currency) => `${Number(amount || 0).toFixed(2)} ${String(currency || "").toUpperCase()}`
const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)} · ${esc(STORE_NAME)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}li{margin:.5rem 0}label{display:block;margin:.3rem 0}</style></head>
<body><header><a href="/"><strong>${esc(STORE_NAME)}</strong></a> · <a href="/cart">Cart</a></header><h1>${esc(title)}</h1>${body}</body></html>`

function cookies(req) {
  return Object.fromEntries((req.headers.cookie || "").split(/;\s*/).filter(Boolean).map((c) => {
    const i = c.indexOf("=")
    return [c.slice(0, i), decodeURIComponent(c.slice(i + 1))]
  }))
}

async function readForm(req) {
  let data = ""
  for await (const chunk of req) { data += chunk; if (data.length > 65536) throw new Error("form too large") }
  return Object.fromEntries(new URLSearchParams(data))
}

async function region() {
  const { regions } = await api("GET", "/store/regions")
  if (!regions || !regions.length) throw new Error("store has no region yet (setup Job still running?)")
  return regions[0]
}

async function home(res) {
  const r = await region()
  const { products } = await api("GET", `/store/products?region_id=${r.id}&fields=*variants.calculated_price&limit=50`)
  const items = products.map((p) => {
    const v = p.variants[0]
    const price = v && v.calculated_price ? money(v.calculated_price.calculated_amount, v.calculated_price.currency_code) : ""
    return `<li><strong>${esc(p.title)}</strong> ${esc(price)}
      <form method="post" action="/cart/add" style="display:inline"><input type="hidden" name="variant_id" value="${esc(v && v.id)}">
      <button>Add to cart</button></form></li>`
  }).join("")
  send(res, 200, page("Products", `<ul>${items}</ul>`))
}

async function addToCart(req, res) {
  const form = await readForm(req)
  let cartId = cookies(req).sf_cart
  if (!cartId) {
    const r = await region()
    cartId = (await api("POST", "/store/carts", { region_id: r.id })).cart.id
  }
  await api("POST", `/store/carts/${cartId}/line-items`, { variant_id: form.variant_id, quantity: 1 })
  res.writeHead(303, { location: "/cart", "set-cookie": `sf_cart=${cartId}; Path=/; HttpOnly; SameSite=Lax` })
  res.end()
}

async function showCart(req, res) {
  const cartId = cookies(req).sf_cart
  if (!cartId) return send(res, 200, page("Cart", "<p>Your cart is empty.</p>"))
  const { cart } = await api("GET", `/store/carts/${cartId}`)
  const r = await region()
  const lines = cart.items.map((i) => `<li>${esc(i.quantity)} × ${esc(i.product_title || i.title)} — ${esc(money(i.unit_price, cart.currency_code))}</li>`).join("")
  const countries = (r.countries || []).map((c) => `<option value="${esc(c.iso_2)}">${esc(c.display_name || c.iso_2)}</option>`).join("")
  send(res, 200, page("Cart", `<ul>${lines}</ul><p>Subtotal: ${esc(money(cart.item_subtotal ?? cart.subtotal, cart.currency_code))}</p>
  <h2>Checkout</h2><form method="post" action="/checkout">
  <label>Email <input name="email" type="email" required></label>
  <label>First name <input name="first_name" required></label><label>Last name <input name="last_name" required></label>
  <label>Address <input name="address_1" required></label><label>City <input name="city" required></label>
  <label>Postal code <input name="postal_code" required></label>
  <label>Country <select name="country_code">${countries}</select></label>
  <p>Payment: manual (pay on delivery)</p><button>Place order</button></form>`))
}

async function checkout(req, res) {
  const cartId = cookies(req).sf_cart
  if (!cartId) return send(res, 400, page("Checkout", "<p>No cart.</p>"))
  const f = await readForm(req)
  const address = {
    first_name: f.first_name, last_name: f.last_name, address_1: f.address_1,
    city: f.city, postal_code: f.postal_code, country_code: f.country_code,
  }
  await api("POST", `/store/carts/${cartId}`, { email: f.email, shipping_address: address, billing_address: address })
  const { shipping_options } = await api("GET", `/store/shipping-options?cart_id=${cartId}`)
  if (!shipping_options.length) throw new Error("no shipping option for this address")
  await api("POST", `/store/carts/${cartId}/shipping-methods`, { option_id: shipping_options[0].id })
  const { payment_collection } = await api("POST", "/store/payment-collections", { cart_id: cartId })
  await api("POST", `/store/payment-collections/${payment_collection.id}/payment-sessions`, { provider_id: "pp_system_default" })
  const done = await api("POST", `/store/carts/${cartId}/complete`, {})
  if (done.type !== "order") throw new Error(`cart not completed: ${(done.error && done.error.message) || "unknown"}`)
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "set-cookie": "sf_cart=; Path=/; Max-Age=0" })
  res.end(page("Thank you", `<p>Order <strong>#${esc(done.order.display_id)}</strong> (${esc(done.order.id)}) placed.</p>`))
}

function send(res, status, html) {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8" })
  res.end(html)
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://storefront")
  try {
    if (url.pathname === "/livez") return res.end("ok")
    if (url.pathname === "/healthz") {
      // Ready once the setup Job has published the key and the backend answers.
      if (!publishableKey()) { res.writeHead(503); return res.end("waiting for publishable key") }
      await region()
      return res.end("ok")
    }
    if (req.method === "GET" && url.pathname === "/") return await home(res)
    if (req.method === "POST" && url.pathname === "/cart/add") return await addToCart(req, res)
    if (req.method === "GET" && url.pathname === "/cart") return await showCart(req, res)
    if (req.method === "POST" && url.pathname === "/checkout") return await checkout(req, res)
    send(res, 404, page("Not found", ""))
  } catch (err) {
    console.error(err.message)
    if (!res.headersSent) send(res, 502, page("Something went wrong", `<p>${esc(err.message)}</p>`))
  }
})

server.listen(PORT, () => console.log(`storefront on :${PORT}, backend ${BACKEND}`))
process.on("SIGTERM", () => server.close(() => process.exit(0)))
