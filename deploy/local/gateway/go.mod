module local/gateway

go 1.22
