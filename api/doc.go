// Package api is the HTTP face of the webhook service: the management API of
// a client's webhooks, event ingestion, health checks and the OpenAPI
// document, on a gorilla/mux router. It declares the small interfaces it
// needs (Store, EventStarter) rather than importing db or Temporal, and maps
// error kinds to HTTP statuses in one table (errors.go).
package api
