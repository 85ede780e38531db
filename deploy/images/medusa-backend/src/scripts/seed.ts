/**
 * Storefleet store seed for Medusa v2, run by the chart's setup Job:
 *   medusa exec ./src/scripts/seed.js
 * Everything is looked up before it is created, so re-running changes nothing.
 * Outputs (in $SETUP_OUT_DIR, default /tmp/setup):
 *   publishable-key  the storefront's publishable API key token
 *   admin-exists     "yes" if a user with $ADMIN_EMAIL already exists
 */
import { ExecArgs } from "@medusajs/framework/types"
import { ContainerRegistrationKeys, Modules, ProductStatus } from "@medusajs/framework/utils"
import {
  createApiKeysWorkflow,
  createInventoryLevelsWorkflow,
  createProductsWorkflow,
  createRegionsWorkflow,
  createSalesChannelsWorkflow,
  createShippingOptionsWorkflow,
  createShippingProfilesWorkflow,
  createStockLocationsWorkflow,
  createTaxRegionsWorkflow,
  linkSalesChannelsToApiKeyWorkflow,
  linkSalesChannelsToStockLocationWorkflow,
  updateStoresWorkflow,
} from "@medusajs/medusa/core-flows"
import * as fs from "fs"
import * as path from "path"

const SALES_CHANNEL = "Default Sales Channel"
const REGION = process.env.STORE_REGION_NAME || "Storefleet"
const CURRENCY = (process.env.STORE_CURRENCY || "eur").toLowerCase()
const COUNTRIES = (process.env.STORE_COUNTRIES || "us,gb,de,fr,nl,es,it,dk,se")
  .split(",").map((c) => c.trim().toLowerCase()).filter(Boolean)
const LOCATION = "Storefleet Warehouse"
const FULFILLMENT_SET = "Storefleet delivery"
const SHIPPING_OPTION = "Standard Shipping"
const API_KEY_TITLE = "Storefleet Storefront"

type SeedProduct = { handle: string; title: string; sku: string; price: number; stock: number }
const PRODUCTS: SeedProduct[] = JSON.parse(process.env.STORE_PRODUCTS || "[]")

export default async function seedStore({ container }: ExecArgs) {
  const logger = container.resolve(ContainerRegistrationKeys.LOGGER)
  const link = container.resolve(ContainerRegistrationKeys.LINK)
  const query = container.resolve(ContainerRegistrationKeys.QUERY)
  const fulfillment = container.resolve(Modules.FULFILLMENT)
  const outDir = process.env.SETUP_OUT_DIR || "/tmp/setup"
  fs.mkdirSync(outDir, { recursive: true })

  // Admin user (created afterwards by `medusa user` only when missing).
  const adminEmail = process.env.ADMIN_EMAIL || ""
  const { data: users } = await query.graph({ entity: "user", fields: ["id"], filters: { email: adminEmail } })
  fs.writeFileSync(path.join(outDir, "admin-exists"), users.length ? "yes" : "no")

  // Sales channel.
  const { data: channels } = await query.graph({ entity: "sales_channel", fields: ["id"], filters: { name: SALES_CHANNEL } })
  let salesChannelId: string = channels[0]?.id
  if (!salesChannelId) {
    const { result } = await createSalesChannelsWorkflow(container).run({
      input: { salesChannelsData: [{ name: SALES_CHANNEL }] },
    })
    salesChannelId = result[0].id
    logger.info(`created sales channel ${salesChannelId}`)
  }

  // Store currency and default sales channel.
  const { data: stores } = await query.graph({
    entity: "store",
    fields: ["id", "default_sales_channel_id", "supported_currencies.currency_code"],
  })
  const store = stores[0]
  const currencies = (store.supported_currencies || []).map((c: any) => c.currency_code)
  if (!currencies.includes(CURRENCY) || store.default_sales_channel_id !== salesChannelId) {
    await updateStoresWorkflow(container).run({
      input: {
        selector: { id: store.id },
        update: {
          supported_currencies: [{ currency_code: CURRENCY, is_default: true }],
          default_sales_channel_id: salesChannelId,
        },
      },
    })
    logger.info("updated store currency and sales channel")
  }

  // Region with the manual payment provider, and its tax regions.
  const { data: regions } = await query.graph({ entity: "region", fields: ["id"], filters: { name: REGION } })
  let regionId: string = regions[0]?.id
  if (!regionId) {
    const { result } = await createRegionsWorkflow(container).run({
      input: {
        regions: [{ name: REGION, currency_code: CURRENCY, countries: COUNTRIES, payment_providers: ["pp_system_default"] }],
      },
    })
    regionId = result[0].id
    logger.info(`created region ${regionId}`)
  }
  const { data: taxRegions } = await query.graph({ entity: "tax_region", fields: ["country_code"] })
  const taxed = new Set(taxRegions.map((t: any) => t.country_code))
  const missingTax = COUNTRIES.filter((c) => !taxed.has(c))
  if (missingTax.length) {
    await createTaxRegionsWorkflow(container).run({
      input: missingTax.map((country_code) => ({ country_code, provider_id: "tp_system" })),
    })
  }

  // Stock location served by the manual fulfillment provider.
  const { data: locations } = await query.graph({ entity: "stock_location", fields: ["id"], filters: { name: LOCATION } })
  let locationId: string = locations[0]?.id
  if (!locationId) {
    const { result } = await createStockLocationsWorkflow(container).run({
      input: { locations: [{ name: LOCATION, address: { city: "Berlin", country_code: "DE", address_1: "" } }] },
    })
    locationId = result[0].id
    await link.create({
      [Modules.STOCK_LOCATION]: { stock_location_id: locationId },
      [Modules.FULFILLMENT]: { fulfillment_provider_id: "manual_manual" },
    })
    await linkSalesChannelsToStockLocationWorkflow(container).run({
      input: { id: locationId, add: [salesChannelId] },
    })
    logger.info(`created stock location ${locationId}`)
  }

  // Shipping profile, fulfillment set / service zone, shipping option.
  const { data: profiles } = await query.graph({ entity: "shipping_profile", fields: ["id", "type"] })
  let profileId: string = (profiles.find((p: any) => p.type === "default") || profiles[0])?.id
  if (!profileId) {
    const { result } = await createShippingProfilesWorkflow(container).run({
      input: { data: [{ name: "Default Shipping Profile", type: "default" }] },
    })
    profileId = result[0].id
  }
  const { data: sets } = await query.graph({
    entity: "fulfillment_set", fields: ["id", "service_zones.id"], filters: { name: FULFILLMENT_SET },
  })
  let serviceZoneId: string = sets[0]?.service_zones?.[0]?.id
  if (!serviceZoneId) {
    const set = await fulfillment.createFulfillmentSets({
      name: FULFILLMENT_SET,
      type: "shipping",
      service_zones: [{ name: REGION, geo_zones: COUNTRIES.map((country_code) => ({ country_code, type: "country" as const })) }],
    })
    serviceZoneId = set.service_zones[0].id
    await link.create({
      [Modules.STOCK_LOCATION]: { stock_location_id: locationId },
      [Modules.FULFILLMENT]: { fulfillment_set_id: set.id },
    })
  }
  const { data: options } = await query.graph({ entity: "shipping_option", fields: ["id"], filters: { name: SHIPPING_OPTION } })
  if (!options.length) {
    await createShippingOptionsWorkflow(container).run({
      input: [{
        name: SHIPPING_OPTION,
        price_type: "flat",
        provider_id: "manual_manual",
        service_zone_id: serviceZoneId,
        shipping_profile_id: profileId,
        type: { label: "Standard", description: "Ships in 2-3 days.", code: "standard" },
        prices: [{ currency_code: CURRENCY, amount: 5 }, { region_id: regionId, amount: 5 }],
        rules: [
          { attribute: "enabled_in_store", value: "true", operator: "eq" },
          { attribute: "is_return", value: "false", operator: "eq" },
        ],
      }],
    })
    logger.info("created shipping option")
  }

  // Publishable API key for the storefront, scoped to the sales channel.
  const { data: keys } = await query.graph({
    entity: "api_key", fields: ["id", "token", "revoked_at"], filters: { title: API_KEY_TITLE, type: "publishable" },
  })
  let key = keys.find((k: any) => !k.revoked_at)
  if (!key) {
    const { result } = await createApiKeysWorkflow(container).run({
      input: { api_keys: [{ title: API_KEY_TITLE, type: "publishable", created_by: "storefleet-setup" }] },
    })
    key = result[0]
    await linkSalesChannelsToApiKeyWorkflow(container).run({ input: { id: key.id, add: [salesChannelId] } })
    logger.info("created publishable API key")
  }
  fs.writeFileSync(path.join(outDir, "publishable-key"), key.token)

  // Products (by handle), with stock at our location.
  const handles = PRODUCTS.map((p) => p.handle)
  const { data: existing } = handles.length
    ? await query.graph({ entity: "product", fields: ["handle"], filters: { handle: handles } })
    : { data: [] as any[] }
  const have = new Set(existing.map((p: any) => p.handle))
  const missing = PRODUCTS.filter((p) => !have.has(p.handle))
  if (missing.length) {
    await createProductsWorkflow(container).run({
      input: {
        products: missing.map((p) => ({
          title: p.title,
          handle: p.handle,
          status: ProductStatus.PUBLISHED,
          shipping_profile_id: profileId,
          sales_channels: [{ id: salesChannelId }],
          options: [{ title: "Default option", values: ["Default"] }],
          variants: [{
            title: p.title,
            sku: p.sku,
            manage_inventory: true,
            options: { "Default option": "Default" },
            prices: [{ amount: p.price, currency_code: CURRENCY }],
          }],
        })),
      },
    })
    logger.info(`created ${missing.length} products`)
  }
  const stockBySku = new Map(PRODUCTS.map((p) => [p.sku, p.stock]))
  const { data: items } = await query.graph({
    entity: "inventory_item", fields: ["id", "sku", "location_levels.location_id"],
  })
  const levels = items
    .filter((i: any) => stockBySku.has(i.sku))
    .filter((i: any) => !(i.location_levels || []).some((l: any) => l.location_id === locationId))
    .map((i: any) => ({ inventory_item_id: i.id, location_id: locationId, stocked_quantity: stockBySku.get(i.sku)! }))
  if (levels.length) {
    await createInventoryLevelsWorkflow(container).run({ input: { inventory_levels: levels } })
    logger.info(`stocked ${levels.length} inventory items`)
  }

  logger.info("storefleet seed complete")
}
