"""store-order: place a real order in a store and read it back through the admin API."""
import argparse
import json
import os
import sys

from . import medusa, woocommerce
from .http import Client, HTTPError

DEFAULT_CUSTOMER = {
    "first_name": "Store", "last_name": "Fleet", "email": "order-check@example.com",
    "address_1": "1 Test Street", "city": "Berlin", "postcode": "10115", "country": "DE",
    "state": "", "phone": "000000",
}


def detect_engine(client):
    """WooCommerce exposes the wc/store namespace at /wp-json/; anything else is treated as Medusa."""
    try:
        resp = client.call("GET", "/wp-json/", ok=None)
        if resp.status == 200 and "wc/store/v1" in (resp.json().get("namespaces") or []):
            return "woocommerce"
    except (ValueError, HTTPError, OSError):
        pass
    resp = client.call("GET", "/health", ok=None)
    if resp.status == 200:
        return "medusa"
    raise RuntimeError("could not detect the engine; pass --engine")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="store-order", description=__doc__)
    p.add_argument("url", help="store base URL, e.g. http://my-shop.127.0.0.1.nip.io")
    p.add_argument("--engine", choices=["woocommerce", "medusa", "auto"], default="auto")
    p.add_argument("--admin-user", default=os.environ.get("STORE_ADMIN_USER", ""),
                   help="WooCommerce admin username, or Medusa admin email (env STORE_ADMIN_USER)")
    p.add_argument("--admin-password", default=os.environ.get("STORE_ADMIN_PASSWORD", ""),
                   help="admin password (env STORE_ADMIN_PASSWORD)")
    p.add_argument("--app-password", default=os.environ.get("WC_APP_PASSWORD", ""),
                   help="WooCommerce: WordPress application password instead of a cookie login")
    p.add_argument("--publishable-key", default=os.environ.get("MEDUSA_PUBLISHABLE_KEY", ""),
                   help="Medusa publishable API key (env MEDUSA_PUBLISHABLE_KEY)")
    p.add_argument("--email", default=DEFAULT_CUSTOMER["email"], help="customer email")
    p.add_argument("--country", default=DEFAULT_CUSTOMER["country"], help="customer country (ISO 2)")
    p.add_argument("--skip-admin", action="store_true", help="do not read the order back")
    return p.parse_args(argv)


def run(args, transport=None):
    client = Client(args.url, transport)
    engine = detect_engine(client) if args.engine == "auto" else args.engine
    customer = dict(DEFAULT_CUSTOMER, email=args.email, country=args.country)
    if engine == "woocommerce":
        order = woocommerce.place_order(client, customer)
    else:
        order = medusa.place_order(client, customer, args.publishable_key)
    result = {"engine": engine, "order": order}
    if not args.skip_admin:
        if not (args.admin_user and (args.admin_password or args.app_password)):
            raise RuntimeError("admin credentials needed to read the order back (or --skip-admin)")
        if engine == "woocommerce":
            result["admin"] = woocommerce.read_order(client, order["order_id"], args.admin_user,
                                                     args.admin_password, args.app_password or None)
        else:
            result["admin"] = medusa.read_order(client, order["order_id"], args.admin_user, args.admin_password)
    return result


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        result = run(args)
    except (RuntimeError, HTTPError, OSError, KeyError, ValueError) as e:
        print(f"store-order: FAILED: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0
