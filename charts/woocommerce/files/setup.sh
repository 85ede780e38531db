#!/bin/sh
# WooCommerce store setup, run by the setup Job with WP-CLI as uid 33.
# Safe to re-run: every step checks the current state before it changes anything.
set -eu

log() { printf '%s setup: %s\n' "$(date -u +%H:%M:%S)" "$*"; }

cd /var/www/html
mkdir -p wp-content/plugins wp-content/themes wp-content/uploads

log "waiting for the database at ${WORDPRESS_DB_HOST}"
tries=0
# shellcheck disable=SC2016 # PHP code, expanded by PHP not the shell
until php -r '
  mysqli_report(MYSQLI_REPORT_OFF);
  [$h, $p] = array_pad(explode(":", getenv("WORDPRESS_DB_HOST")), 2, 3306);
  $m = @new mysqli($h, getenv("WORDPRESS_DB_USER"), getenv("WORDPRESS_DB_PASSWORD"), getenv("WORDPRESS_DB_NAME"), (int)$p);
  exit($m->connect_errno ? 1 : 0);'; do
  tries=$((tries + 1))
  if [ "$tries" -ge 120 ]; then log "database not reachable after 10 minutes"; exit 1; fi
  sleep 5
done

if wp core is-installed; then
  log "WordPress already installed"
else
  log "installing WordPress for ${STORE_URL}"
  wp core install --url="$STORE_URL" --title="$STORE_TITLE" \
    --admin_user="$ADMIN_USERNAME" --admin_password="$ADMIN_PASSWORD" \
    --admin_email="$ADMIN_EMAIL" --skip-email
fi

current_wc="$(wp plugin get woocommerce --field=version 2>/dev/null || true)"
if [ "$current_wc" != "$WOOCOMMERCE_VERSION" ]; then
  log "installing WooCommerce ${WOOCOMMERCE_VERSION} (found '${current_wc}')"
  wp plugin install woocommerce --version="$WOOCOMMERCE_VERSION" --force
fi
wp plugin is-active woocommerce || wp plugin activate woocommerce

current_theme="$(wp theme get storefront --field=version 2>/dev/null || true)"
if [ "$current_theme" != "$STOREFRONT_VERSION" ]; then
  log "installing Storefront ${STOREFRONT_VERSION} (found '${current_theme}')"
  wp theme install storefront --version="$STOREFRONT_VERSION" --force
fi
wp theme is-active storefront || wp theme activate storefront

if [ "$(wp option get permalink_structure)" != "/%postname%/" ]; then
  log "pretty permalinks"
  wp rewrite structure '/%postname%/'
fi

# Database-side WooCommerce settings, pages, payment, shipping and products.
wp eval-file /setup/store.php

log "done"
