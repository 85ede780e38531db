<?php
/**
 * Runs inside WordPress (wp eval-file) with WooCommerce loaded.
 * Idempotent: options are only written when they differ, pages/products only
 * created when missing (products are looked up by SKU).
 */
if (!class_exists('WooCommerce')) {
    WP_CLI::error('WooCommerce is not active');
}

function sf_set($name, $value) {
    if (get_option($name) !== $value) {
        update_option($name, $value);
        WP_CLI::log("option $name updated");
    }
}

// Store basics.
sf_set('woocommerce_currency', getenv('STORE_CURRENCY') ?: 'USD');
sf_set('woocommerce_default_country', getenv('STORE_COUNTRY') ?: 'US:CA');
sf_set('woocommerce_enable_guest_checkout', 'yes');
sf_set('woocommerce_enable_checkout_login_reminder', 'yes');
sf_set('woocommerce_calc_taxes', 'no');
sf_set('woocommerce_manage_stock', 'yes');
sf_set('woocommerce_allow_tracking', 'no');
sf_set('woocommerce_show_marketplace_suggestions', 'no');

// Launch the store: no "coming soon" placeholder for logged-out shoppers.
sf_set('woocommerce_coming_soon', 'no');
sf_set('woocommerce_store_pages_only', 'no');

// Onboarding done, task list hidden, no setup-wizard redirect.
$profile = get_option('woocommerce_onboarding_profile', array());
if (!is_array($profile)) { $profile = array(); }
if (empty($profile['completed']) || empty($profile['skipped'])) {
    $profile['completed'] = true;
    $profile['skipped'] = true;
    update_option('woocommerce_onboarding_profile', $profile);
    WP_CLI::log('onboarding marked complete');
}
sf_set('woocommerce_task_list_hidden', 'yes');
sf_set('woocommerce_task_list_complete', 'yes');
sf_set('woocommerce_extended_task_list_hidden', 'yes');
delete_transient('_wc_activation_redirect');

// Shop, cart, checkout and my-account pages (WooCommerce skips existing ones).
WC_Install::create_pages();

// Cash on delivery.
$cod = get_option('woocommerce_cod_settings', array());
if (!is_array($cod)) { $cod = array(); }
$want = array_merge($cod, array(
    'enabled' => 'yes',
    'title' => 'Cash on delivery',
    'description' => 'Pay with cash upon delivery.',
    'enable_for_virtual' => 'yes',
));
if ($want !== $cod) {
    update_option('woocommerce_cod_settings', $want);
    WP_CLI::log('cash on delivery enabled');
}

// Free shipping everywhere ("Locations not covered by your other zones", id 0).
$zone = new WC_Shipping_Zone(0);
$has_free = false;
foreach ($zone->get_shipping_methods() as $method) {
    if ($method->id === 'free_shipping') { $has_free = true; }
}
if (!$has_free) {
    $zone->add_shipping_method('free_shipping');
    WP_CLI::log('free shipping added to the default zone');
}

// Products.
$products = json_decode(getenv('STORE_PRODUCTS') ?: '[]', true);
foreach ($products as $p) {
    if (wc_get_product_id_by_sku($p['sku'])) {
        continue;
    }
    $product = new WC_Product_Simple();
    $product->set_name($p['name']);
    $product->set_sku($p['sku']);
    $product->set_regular_price((string) $p['price']);
    $product->set_manage_stock(true);
    $product->set_stock_quantity((int) $p['stock']);
    $product->set_stock_status('instock');
    $product->set_status('publish');
    $product->set_catalog_visibility('visible');
    $product->save();
    WP_CLI::log('product ' . $p['sku'] . ' created');
}

flush_rewrite_rules(false);
WP_CLI::success('store configured');
