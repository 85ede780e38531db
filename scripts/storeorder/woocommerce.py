"""WooCommerce: Store API (cart + checkout with cash on delivery), then the admin REST API."""
import base64

from .http import HTTPError

STORE = "/wp-json/wc/store/v1"


def pick_product(products):
    for p in products:
        if p.get("is_purchasable") and p.get("is_in_stock") and p.get("type", "simple") == "simple":
            return p
    raise RuntimeError("no purchasable, in-stock simple product in the store")


def cart_headers(resp, previous=None):
    """Nonce and Cart-Token from a Store API response (kept if the response has none)."""
    h = dict(previous or {})
    if resp.headers.get("nonce"):
        h["Nonce"] = resp.headers["nonce"]
    if resp.headers.get("cart-token"):
        h["Cart-Token"] = resp.headers["cart-token"]
    return h


def checkout_body(customer):
    address = {
        "first_name": customer["first_name"], "last_name": customer["last_name"],
        "address_1": customer["address_1"], "city": customer["city"],
        "state": customer.get("state", ""), "postcode": customer["postcode"],
        "country": customer["country"],
    }
    billing = dict(address, email=customer["email"], phone=customer.get("phone", ""))
    return {"billing_address": billing, "shipping_address": address,
            "payment_method": "cod", "customer_note": "Storefleet store-order check"}


def place_order(client, customer):
    products = client.call("GET", f"{STORE}/products?per_page=20").json()
    product = pick_product(products)
    cart = client.call("GET", f"{STORE}/cart")
    headers = cart_headers(cart)
    if "Nonce" not in headers and "Cart-Token" not in headers:
        raise RuntimeError("Store API returned neither Nonce nor Cart-Token")
    added = client.call("POST", f"{STORE}/cart/add-item", {"id": product["id"], "quantity": 1}, headers=headers)
    headers = cart_headers(added, headers)
    resp = client.call("POST", f"{STORE}/checkout", checkout_body(customer), headers=headers)
    return parse_checkout(resp.json(), product)


def parse_checkout(body, product):
    if not body.get("order_id"):
        raise RuntimeError(f"checkout returned no order: {body}")
    result = body.get("payment_result") or {}
    if result.get("payment_status") not in (None, "success"):
        raise RuntimeError(f"payment failed: {result}")
    return {"order_id": body["order_id"], "status": body.get("status"),
            "order_key": body.get("order_key"), "product": product["name"]}


def admin_headers(client, username, password, app_password=None):
    """Basic auth with an application password, else a cookie login + REST nonce."""
    if app_password:
        token = base64.b64encode(f"{username}:{app_password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    client.call("POST", "/wp-login.php", form={
        "log": username, "pwd": password, "wp-submit": "Log In", "testcookie": "1",
        "redirect_to": client.base + "/wp-admin/",
    }, headers={"Cookie": "wordpress_test_cookie=WP%20Cookie%20check"}, ok=(200, 302))
    nonce = client.call("GET", "/wp-admin/admin-ajax.php?action=rest-nonce").text.strip()
    if not nonce or nonce == "0" or len(nonce) > 32:
        raise RuntimeError("admin login failed (no REST nonce); check the admin credentials")
    return {"X-WP-Nonce": nonce}


def read_order(client, order_id, username, password, app_password=None):
    headers = admin_headers(client, username, password, app_password)
    try:
        order = client.call("GET", f"/wp-json/wc/v3/orders/{order_id}", headers=headers).json()
    except HTTPError as e:
        raise RuntimeError(f"admin API could not read order {order_id}: {e}") from e
    return parse_admin_order(order, order_id)


def parse_admin_order(order, order_id):
    if order.get("id") != order_id:
        raise RuntimeError(f"admin API returned order {order.get('id')}, expected {order_id}")
    if order.get("payment_method") != "cod":
        raise RuntimeError(f"order {order_id} payment method is {order.get('payment_method')}")
    return {"id": order["id"], "status": order.get("status"), "total": order.get("total"),
            "currency": order.get("currency"),
            "items": [f"{i.get('quantity')} x {i.get('name')}" for i in order.get("line_items", [])]}
