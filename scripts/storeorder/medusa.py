"""Medusa v2: Store API cart -> shipping -> payment collection/session -> complete, then the Admin API."""
PROVIDER = "pp_system_default"


def store_headers(key):
    if not key:
        raise RuntimeError("Medusa needs the publishable API key (--publishable-key or MEDUSA_PUBLISHABLE_KEY)")
    return {"x-publishable-api-key": key}


def pick_variant(products):
    for p in products:
        for v in p.get("variants") or []:
            if v.get("id"):
                return p, v
    raise RuntimeError("no product with a variant in the store")


def address(customer, country_code):
    return {"first_name": customer["first_name"], "last_name": customer["last_name"],
            "address_1": customer["address_1"], "city": customer["city"],
            "postal_code": customer["postcode"], "country_code": country_code}


def region_country(region, wanted):
    codes = [c.get("iso_2") for c in region.get("countries") or [] if c.get("iso_2")]
    if not codes:
        raise RuntimeError(f"region {region.get('id')} has no countries")
    wanted = (wanted or "").lower()
    return wanted if wanted in codes else codes[0]


def place_order(client, customer, key):
    h = store_headers(key)
    regions = client.call("GET", "/store/regions", headers=h).json()["regions"]
    if not regions:
        raise RuntimeError("store has no region (setup Job not finished?)")
    region = regions[0]
    country = region_country(region, customer.get("country"))
    products = client.call(
        "GET", f"/store/products?region_id={region['id']}&fields=*variants.calculated_price&limit=20", headers=h,
    ).json()["products"]
    product, variant = pick_variant(products)
    cart = client.call("POST", "/store/carts", {"region_id": region["id"], "email": customer["email"]}, headers=h).json()["cart"]
    cid = cart["id"]
    client.call("POST", f"/store/carts/{cid}/line-items", {"variant_id": variant["id"], "quantity": 1}, headers=h)
    addr = address(customer, country)
    client.call("POST", f"/store/carts/{cid}", {"email": customer["email"], "shipping_address": addr,
                                                 "billing_address": addr}, headers=h)
    options = client.call("GET", f"/store/shipping-options?cart_id={cid}", headers=h).json()["shipping_options"]
    if not options:
        raise RuntimeError("no shipping option for the cart")
    client.call("POST", f"/store/carts/{cid}/shipping-methods", {"option_id": options[0]["id"]}, headers=h)
    pc = client.call("POST", "/store/payment-collections", {"cart_id": cid}, headers=h).json()["payment_collection"]
    client.call("POST", f"/store/payment-collections/{pc['id']}/payment-sessions", {"provider_id": PROVIDER}, headers=h)
    done = client.call("POST", f"/store/carts/{cid}/complete", {}, headers=h).json()
    result = parse_complete(done)
    result["product"] = product.get("title")
    return result


def parse_complete(body):
    if body.get("type") != "order" or not body.get("order"):
        err = (body.get("error") or {}).get("message") or body
        raise RuntimeError(f"cart was not completed: {err}")
    order = body["order"]
    return {"order_id": order["id"], "display_id": order.get("display_id"), "status": order.get("status")}


def admin_token(client, email, password):
    body = client.call("POST", "/auth/user/emailpass", {"email": email, "password": password}).json()
    if not body.get("token"):
        raise RuntimeError("admin login returned no token")
    return body["token"]


def read_order(client, order_id, email, password):
    token = admin_token(client, email, password)
    order = client.call("GET", f"/admin/orders/{order_id}", headers={"Authorization": f"Bearer {token}"}).json()["order"]
    return parse_admin_order(order, order_id)


def parse_admin_order(order, order_id):
    if order.get("id") != order_id:
        raise RuntimeError(f"admin API returned order {order.get('id')}, expected {order_id}")
    return {"id": order["id"], "display_id": order.get("display_id"), "status": order.get("status"),
            "total": order.get("total"), "currency": order.get("currency_code"),
            "items": [f"{i.get('quantity')} x {i.get('title')}" for i in order.get("items") or []]}
