import { defineConfig, loadEnv } from "@medusajs/framework/utils"

loadEnv(process.env.NODE_ENV || "production", process.cwd())

// The chart passes the database parts separately so that any password
// (from the store Secret) is URL-encoded correctly.
function databaseUrl(): string {
  if (process.env.DATABASE_URL) {
    return process.env.DATABASE_URL
  }
  const user = encodeURIComponent(process.env.DATABASE_USER || "medusa")
  const password = encodeURIComponent(process.env.DATABASE_PASSWORD || "")
  const host = process.env.DATABASE_HOST || "localhost"
  const port = process.env.DATABASE_PORT || "5432"
  const name = process.env.DATABASE_NAME || "medusa"
  return `postgres://${user}:${password}@${host}:${port}/${name}?sslmode=disable`
}

function required(name: string): string {
  const value = process.env[name]
  if (!value) {
    throw new Error(`${name} must be set (it comes from the store Secret)`)
  }
  return value
}

const redisUrl = process.env.REDIS_URL

module.exports = defineConfig({
  projectConfig: {
    databaseUrl: databaseUrl(),
    databaseDriverOptions: { connection: { ssl: false } },
    redisUrl,
    workerMode: (process.env.MEDUSA_WORKER_MODE as "shared" | "worker" | "server") || "shared",
    http: {
      storeCors: process.env.STORE_CORS || "",
      adminCors: process.env.ADMIN_CORS || "",
      authCors: process.env.AUTH_CORS || "",
      jwtSecret: required("JWT_SECRET"),
      cookieSecret: required("COOKIE_SECRET"),
    },
  },
  admin: {
    // Same origin as the admin (one host per store): relative URL.
    backendUrl: process.env.MEDUSA_BACKEND_URL || "/",
    path: "/app",
    disable: process.env.DISABLE_MEDUSA_ADMIN === "true",
  },
  modules: redisUrl
    ? [
        { resolve: "@medusajs/medusa/cache-redis", options: { redisUrl } },
        { resolve: "@medusajs/medusa/event-bus-redis", options: { redisUrl } },
        {
          resolve: "@medusajs/medusa/workflow-engine-redis",
          options: { redis: { url: redisUrl } },
        },
      ]
    : [],
})
