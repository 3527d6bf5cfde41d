// Command gateway is the local stand-in for the Kubernetes ingress: it routes by
// longest path prefix to the services, so clients, tests and the benchmark see one
// base URL exactly as they do in a cluster. It also serves the platform's one
// OpenAPI document (/openapi.json, merged from the services') and its docs page
// (/docs); in a cluster it runs for just those two paths. Standard library only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type route struct {
	Prefix  string `json:"prefix"`
	Service string `json:"service"`
}

type gateway struct {
	routes       []route // longest prefix first
	proxies      map[string]*httputil.ReverseProxy
	upstreams    map[string]*url.URL
	probe        *http.Client
	readyTimeout time.Duration
	docs         *docsMerger
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	routesPath := flag.String("routes", "routes.json", `JSON list of {"prefix", "service"}`)
	upstreamsPath := flag.String("upstreams", "upstreams.json", `JSON object {"service": "http://host:port"}`)
	readyTimeout := flag.Duration("ready-timeout", 2*time.Second, "per-upstream timeout of /readyz")
	flag.Parse()

	var routes []route
	var upstreams map[string]string
	if err := readJSON(*routesPath, &routes); err != nil {
		log.Fatal(err)
	}
	if err := readJSON(*upstreamsPath, &upstreams); err != nil {
		log.Fatal(err)
	}
	g, err := newGateway(routes, upstreams, *readyTimeout)
	if err != nil {
		log.Fatal(err)
	}

	srv := &http.Server{
		Addr:              *listen,
		Handler:           g,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("gateway listening on %s, %d routes, upstreams %v", ln.Addr(), len(routes), upstreams)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func newGateway(routes []route, upstreams map[string]string, readyTimeout time.Duration) (*gateway, error) {
	// The gateway fronts a latency benchmark: keep many warm connections per
	// upstream instead of paying a TCP handshake per request.
	transport := &http.Transport{
		Proxy:                 nil, // upstreams are local; never route them through an env proxy
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2048,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	g := &gateway{
		routes:       append([]route(nil), routes...),
		proxies:      map[string]*httputil.ReverseProxy{},
		upstreams:    map[string]*url.URL{},
		probe:        &http.Client{Transport: transport},
		readyTimeout: readyTimeout,
	}
	sort.SliceStable(g.routes, func(i, j int) bool { return len(g.routes[i].Prefix) > len(g.routes[j].Prefix) })

	for name, raw := range upstreams {
		target, err := url.Parse(raw)
		if err != nil || target.Scheme == "" || target.Host == "" {
			return nil, fmt.Errorf("upstream %s: invalid URL %q", name, raw)
		}
		name := name
		g.upstreams[name] = target
		g.proxies[name] = &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				// Services see the public host, like behind the cluster ingress,
				// so issuer and Location URLs they build point at the gateway.
				r.Out.Host = r.In.Host
				r.SetXForwarded()
			},
			Transport: transport,
			ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
				log.Printf("upstream %s: %s %s: %v", name, req.Method, req.URL.Path, err)
				problem(w, http.StatusBadGateway, "Bad Gateway", fmt.Sprintf("upstream %s unavailable", name))
			},
		}
	}
	g.docs = newDocsMerger(routes, g.upstreams, func(path string) (string, bool) {
		rt, ok := g.match(path)
		return rt.Service, ok
	}, g.probe)
	return g, nil
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "ok"})
		return
	case "/readyz":
		g.ready(w, r)
		return
	case "/openapi.json":
		g.docs.serveOpenAPI(w, r)
		return
	case "/docs":
		g.docs.serveDocs(w, r)
		return
	}
	rt, ok := g.match(r.URL.Path)
	if !ok {
		problem(w, http.StatusNotFound, "Not Found", "no route for "+r.URL.Path)
		return
	}
	proxy, ok := g.proxies[rt.Service]
	if !ok {
		problem(w, http.StatusServiceUnavailable, "Service Unavailable", fmt.Sprintf("service %s is not running", rt.Service))
		return
	}
	proxy.ServeHTTP(w, r)
}

// match compares whole path segments, like an ingress Prefix path: /v1/claims
// matches /v1/claims and /v1/claims/x but not /v1/claimsx.
func (g *gateway) match(path string) (route, bool) {
	for _, rt := range g.routes {
		p := strings.TrimSuffix(rt.Prefix, "/")
		if path == p || strings.HasPrefix(path, p+"/") {
			return rt, true
		}
	}
	return route{}, false
}

func (g *gateway) ready(w http.ResponseWriter, r *http.Request) {
	type result struct{ name, err string }
	results := make(chan result, len(g.upstreams))
	var wg sync.WaitGroup
	for name, target := range g.upstreams {
		wg.Add(1)
		go func(name string, target *url.URL) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), g.readyTimeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target.JoinPath("/readyz").String(), nil)
			resp, err := g.probe.Do(req)
			if err != nil {
				results <- result{name, err.Error()}
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				results <- result{name, fmt.Sprintf("readyz returned %d", resp.StatusCode)}
				return
			}
			results <- result{name, ""}
		}(name, target)
	}
	wg.Wait()
	close(results)

	failing := map[string]string{}
	for res := range results {
		if res.err != "" {
			failing[res.name] = res.err
		}
	}
	if len(failing) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, "application/json", map[string]any{"status": "unavailable", "failing": failing})
		return
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "ok"})
}

func problem(w http.ResponseWriter, status int, title, detail string) {
	writeJSON(w, status, "application/problem+json", map[string]any{
		"type": "about:blank", "title": title, "status": status, "detail": detail,
	})
}

func writeJSON(w http.ResponseWriter, status int, contentType string, body any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
