/**
 * tif1-effect: the public surface.
 *
 * @since 0.1.0
 */
export * from "./schema/Config.js"
export * from "./schema/DataRequest.js"
export * from "./schema/Errors.js"
