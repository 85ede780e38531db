"""Unit tests for scripts/storeorder: request building and response parsing with
recorded sample responses (no network)."""
import json
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "scripts"))

from storeorder import cli, medusa, woocommerce  # noqa: E402
from storeorder.http import Client, Response  # noqa: E402

# --- recorded samples (trimmed real response shapes) ---------------------------
WC_PRODUCTS = [
    {"id": 11, "name": "Gift card", "type": "variable", "is_purchasable": True, "is_in_stock": True},
    {"id": 12, "name": "Storefleet T-Shirt", "type": "simple", "is_purchasable": True, "is_in_stock": True,
     "prices": {"price": "1900", "currency_code": "USD", "currency_minor_unit": 2}},
]
WC_CART = {"items": [], "items_count": 0, "totals": {"total_price": "0"}}
WC_CHECKOUT = {"order_id": 42, "status": "processing", "order_key": "wc_order_abc",
               "payment_method": "cod", "payment_result": {"payment_status": "success", "redirect_url": "x"}}
WC_ADMIN_ORDER = {"id": 42, "status": "processing", "total": "19.00", "currency": "USD",
                  "payment_method": "cod", "line_items": [{"name": "Storefleet T-Shirt", "quantity": 1}]}
WP_JSON_ROOT = {"name": "my-shop", "namespaces": ["oembed/1.0", "wc/store/v1", "wc/v3", "wp/v2"]}

MD_REGIONS = {"regions": [{"id": "reg_01", "currency_code": "eur",
                           "countries": [{"iso_2": "us"}, {"iso_2": "de"}]}]}
MD_PRODUCTS = {"products": [{"id": "prod_01", "title": "Storefleet Mug", "variants": [
    {"id": "variant_01", "calculated_price": {"calculated_amount": 12.5, "currency_code": "eur"}}]}]}
MD_CART = {"cart": {"id": "cart_01", "region_id": "reg_01", "items": []}}
MD_SHIPPING = {"shipping_options": [{"id": "so_01", "name": "Standard Shipping", "amount": 5}]}
MD_PC = {"payment_collection": {"id": "pay_col_01", "amount": 17.5}}
MD_COMPLETE = {"type": "order", "order": {"id": "order_01", "display_id": 7, "status": "pending"}}
MD_COMPLETE_FAILED = {"type": "cart", "cart": {"id": "cart_01"},
                      "error": {"message": "Payment authorization failed", "type": "payment_authorization_error"}}
MD_ADMIN_ORDER = {"order": {"id": "order_01", "display_id": 7, "status": "pending", "total": 17.5,
                            "currency_code": "eur", "items": [{"title": "Storefleet Mug", "quantity": 1}]}}


class FakeTransport:
    """Answers by (method, path prefix); records every request."""

    def __init__(self, routes):
        self.routes = routes
        self.requests = []

    def __call__(self, req):
        self.requests.append(req)
        for (method, prefix), resp in self.routes.items():
            if req.method == method and req.path.startswith(prefix):
                return resp() if callable(resp) else resp
        return Response(404, {}, b'{"message":"not found"}')

    def find(self, method, prefix):
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]


def ok(body, headers=None, status=200):
    return Response(status, headers or {}, json.dumps(body).encode())


def wc_routes():
    return {
        ("GET", "/wp-json/wc/store/v1/products"): ok(WC_PRODUCTS),
        ("GET", "/wp-json/wc/store/v1/cart"): ok(WC_CART, {"Nonce": "n1", "Cart-Token": "ct1"}),
        ("POST", "/wp-json/wc/store/v1/cart/add-item"): ok(WC_CART, {"Nonce": "n2", "Cart-Token": "ct2"}, 201),
        ("POST", "/wp-json/wc/store/v1/checkout"): ok(WC_CHECKOUT),
        ("POST", "/wp-login.php"): Response(302, {"Location": "/wp-admin/", "Set-Cookie": "wordpress_logged_in=x"}, b""),
        ("GET", "/wp-admin/admin-ajax.php?action=rest-nonce"): Response(200, {}, b"abcdef1234"),
        ("GET", "/wp-json/wc/v3/orders/42"): ok(WC_ADMIN_ORDER),
        ("GET", "/wp-json/"): ok(WP_JSON_ROOT),
    }


def md_routes(complete=MD_COMPLETE):
    return {
        ("GET", "/store/regions"): ok(MD_REGIONS),
        ("GET", "/store/products"): ok(MD_PRODUCTS),
        ("POST", "/store/carts/cart_01/line-items"): ok(MD_CART),
        ("POST", "/store/carts/cart_01/shipping-methods"): ok(MD_CART),
        ("POST", "/store/carts/cart_01/complete"): ok(complete),
        ("POST", "/store/carts/cart_01"): ok(MD_CART),
        ("POST", "/store/carts"): ok(MD_CART),
        ("GET", "/store/shipping-options"): ok(MD_SHIPPING),
        ("POST", "/store/payment-collections/pay_col_01/payment-sessions"): ok(MD_PC),
        ("POST", "/store/payment-collections"): ok(MD_PC),
        ("POST", "/auth/user/emailpass"): ok({"token": "jwt123"}),
        ("GET", "/admin/orders/order_01"): ok(MD_ADMIN_ORDER),
        ("GET", "/health"): Response(200, {}, b"OK"),
    }


# --- WooCommerce -----------------------------------------------------------------
def test_wc_pick_product_skips_variable_and_out_of_stock():
    assert woocommerce.pick_product(WC_PRODUCTS)["id"] == 12
    with pytest.raises(RuntimeError):
        woocommerce.pick_product([{"id": 1, "type": "simple", "is_purchasable": True, "is_in_stock": False}])


def test_wc_cart_headers_keep_latest_tokens():
    h = woocommerce.cart_headers(Response(200, {"Nonce": "a", "Cart-Token": "b"}, b""))
    assert h == {"Nonce": "a", "Cart-Token": "b"}
    h = woocommerce.cart_headers(Response(200, {"Nonce": "c"}, b""), h)
    assert h == {"Nonce": "c", "Cart-Token": "b"}


def test_wc_checkout_body_uses_cod():
    body = woocommerce.checkout_body(cli.DEFAULT_CUSTOMER)
    assert body["payment_method"] == "cod"
    assert body["billing_address"]["email"] == cli.DEFAULT_CUSTOMER["email"]
    assert "email" not in body["shipping_address"]
    assert body["shipping_address"]["postcode"] == "10115"


def test_wc_full_flow_sends_nonce_and_cart_token():
    t = FakeTransport(wc_routes())
    client = Client("http://shop.test", t)
    order = woocommerce.place_order(client, cli.DEFAULT_CUSTOMER)
    assert order == {"order_id": 42, "status": "processing", "order_key": "wc_order_abc",
                     "product": "Storefleet T-Shirt"}
    add = t.find("POST", "/wp-json/wc/store/v1/cart/add-item")[0]
    assert add.headers["Nonce"] == "n1" and add.headers["Cart-Token"] == "ct1"
    assert add.json() == {"id": 12, "quantity": 1}
    checkout = t.find("POST", "/wp-json/wc/store/v1/checkout")[0]
    assert checkout.headers["Nonce"] == "n2" and checkout.headers["Cart-Token"] == "ct2"
    assert checkout.headers["Content-Type"] == "application/json"


def test_wc_admin_read_with_cookie_login():
    t = FakeTransport(wc_routes())
    admin = woocommerce.read_order(Client("http://shop.test", t), 42, "admin", "pw")
    assert admin["status"] == "processing" and admin["items"] == ["1 x Storefleet T-Shirt"]
    login = t.find("POST", "/wp-login.php")[0]
    assert b"log=admin" in login.body and b"pwd=pw" in login.body
    assert t.find("GET", "/wp-json/wc/v3/orders/42")[0].headers["X-WP-Nonce"] == "abcdef1234"


def test_wc_admin_read_with_application_password():
    t = FakeTransport(wc_routes())
    woocommerce.read_order(Client("http://shop.test", t), 42, "admin", "", app_password="ab cd")
    assert not t.find("POST", "/wp-login.php")
    assert t.find("GET", "/wp-json/wc/v3/orders/42")[0].headers["Authorization"].startswith("Basic ")


def test_wc_bad_login_is_reported():
    routes = wc_routes()
    routes[("GET", "/wp-admin/admin-ajax.php?action=rest-nonce")] = Response(200, {}, b"0")
    with pytest.raises(RuntimeError, match="admin login failed"):
        woocommerce.read_order(Client("http://shop.test", FakeTransport(routes)), 42, "admin", "bad")


def test_wc_parse_checkout_errors():
    with pytest.raises(RuntimeError):
        woocommerce.parse_checkout({"code": "woocommerce_rest_cart_empty"}, {"name": "x"})
    with pytest.raises(RuntimeError, match="payment failed"):
        woocommerce.parse_checkout({"order_id": 1, "payment_result": {"payment_status": "failure"}}, {"name": "x"})
    with pytest.raises(RuntimeError):
        woocommerce.parse_admin_order(dict(WC_ADMIN_ORDER, payment_method="bacs"), 42)


# --- Medusa ----------------------------------------------------------------------
def test_medusa_requires_publishable_key():
    with pytest.raises(RuntimeError, match="publishable"):
        medusa.store_headers("")


def test_medusa_region_country():
    region = MD_REGIONS["regions"][0]
    assert medusa.region_country(region, "DE") == "de"
    assert medusa.region_country(region, "fr") == "us"


def test_medusa_full_flow():
    t = FakeTransport(md_routes())
    order = medusa.place_order(Client("http://shop.test", t), cli.DEFAULT_CUSTOMER, "pk_123")
    assert order == {"order_id": "order_01", "display_id": 7, "status": "pending", "product": "Storefleet Mug"}
    assert all(r.headers.get("x-publishable-api-key") == "pk_123" for r in t.requests)
    paths = [(r.method, r.path.split("?")[0]) for r in t.requests]
    assert paths == [
        ("GET", "/store/regions"), ("GET", "/store/products"), ("POST", "/store/carts"),
        ("POST", "/store/carts/cart_01/line-items"), ("POST", "/store/carts/cart_01"),
        ("GET", "/store/shipping-options"), ("POST", "/store/carts/cart_01/shipping-methods"),
        ("POST", "/store/payment-collections"),
        ("POST", "/store/payment-collections/pay_col_01/payment-sessions"),
        ("POST", "/store/carts/cart_01/complete"),
    ]
    assert t.find("POST", "/store/payment-collections/pay_col_01")[0].json() == {"provider_id": "pp_system_default"}
    assert t.find("POST", "/store/payment-collections")[0].json() == {"cart_id": "cart_01"}
    assert t.find("GET", "/store/shipping-options")[0].path.endswith("cart_id=cart_01")
    update = [r for r in t.requests if r.path == "/store/carts/cart_01"][0].json()
    assert update["shipping_address"]["country_code"] == "de"
    assert update["shipping_address"]["postal_code"] == "10115"


def test_medusa_complete_failure_is_reported():
    with pytest.raises(RuntimeError, match="Payment authorization failed"):
        medusa.parse_complete(MD_COMPLETE_FAILED)


def test_medusa_admin_read():
    t = FakeTransport(md_routes())
    admin = medusa.read_order(Client("http://shop.test", t), "order_01", "admin@example.com", "pw")
    assert admin["display_id"] == 7 and admin["items"] == ["1 x Storefleet Mug"]
    assert t.find("POST", "/auth/user/emailpass")[0].json() == {"email": "admin@example.com", "password": "pw"}
    assert t.find("GET", "/admin/orders/order_01")[0].headers["Authorization"] == "Bearer jwt123"


# --- CLI -------------------------------------------------------------------------
def test_detect_engine():
    assert cli.detect_engine(Client("http://s", FakeTransport(wc_routes()))) == "woocommerce"
    assert cli.detect_engine(Client("http://s", FakeTransport(md_routes()))) == "medusa"


def test_cli_run_end_to_end_woocommerce():
    args = cli.parse_args(["http://shop.test/", "--admin-user", "admin", "--admin-password", "pw"])
    result = cli.run(args, FakeTransport(wc_routes()))
    assert result["engine"] == "woocommerce" and result["admin"]["id"] == 42


def test_cli_run_medusa_needs_admin_credentials():
    args = cli.parse_args(["http://shop.test", "--engine", "medusa", "--publishable-key", "pk_1"])
    with pytest.raises(RuntimeError, match="admin credentials"):
        cli.run(args, FakeTransport(md_routes()))
    args = cli.parse_args(["http://shop.test", "--engine", "medusa", "--publishable-key", "pk_1", "--skip-admin"])
    assert cli.run(args, FakeTransport(md_routes()))["order"]["order_id"] == "order_01"
