# One image for both production processes: `webhooks serve` and
# `webhooks worker` (see docker-compose.yml).
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/webhooks ./cmd/webhooks

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/webhooks /usr/local/bin/webhooks
USER nonroot
ENTRYPOINT ["/usr/local/bin/webhooks"]
