module github.com/nanogate/nanogate

go 1.26.8

require (
	github.com/pelletier/go-toml/v2 v2.4.3
	github.com/valyala/fasthttp v1.74.0
	go.nanomsg.org/mangos/v3 v3.4.2
	golang.org/x/sys v0.47.0
)

require (
	github.com/Microsoft/go-winio v0.5.2 // indirect
	github.com/fasthttp/websocket v1.5.12 // indirect
	github.com/gorilla/websocket v1.5.0 // indirect
	github.com/klauspost/compress v1.20.0 // indirect
	github.com/molecule-man/go-brrr v1.0.1 // indirect
	github.com/savsgio/gotils v0.0.0-20240704082632-aef3928b8a38 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	golang.org/x/net v0.58.0 // indirect
)
