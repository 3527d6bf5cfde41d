package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func upstream(t *testing.T, name string, ready int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(ready)
			return
		}
		body, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"service": name, "path": r.URL.RequestURI(), "host": r.Host, "len": strings.Repeat("x", len(body)/1000),
			"authorization": r.Header.Get("Authorization"), "traceparent": r.Header.Get("traceparent"),
			"idempotency": r.Header.Get("Idempotency-Key"), "xff": r.Header.Get("X-Forwarded-For"),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newTestGateway(t *testing.T, upstreams map[string]string) *httptest.Server {
	routes := []route{
		{"/oauth", "identity"}, {"/v1/claims", "claims"}, {"/v1/analytics/denials", "claims"},
		{"/v1/analytics/authorizations", "authorizations"}, {"/v1/webhooks", "notifications"},
	}
	g, err := newGateway(routes, upstreams, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, req *http.Request) (int, string, map[string]any) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

func TestRoutesByLongestSegmentPrefixAndKeepsHeaders(t *testing.T) {
	identity, claims := upstream(t, "identity", 200), upstream(t, "claims", 200)
	gw := newTestGateway(t, map[string]string{"identity": identity.URL, "claims": claims.URL})

	req, _ := http.NewRequest(http.MethodPost, gw.URL+"/v1/claims/c-1?view=full", strings.NewReader(strings.Repeat("y", 200000)))
	req.Header.Set("Authorization", "Bearer t")
	req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	req.Header.Set("Idempotency-Key", "k-1")
	status, _, body := do(t, req)
	if status != 200 || body["service"] != "claims" || body["path"] != "/v1/claims/c-1?view=full" {
		t.Fatalf("unexpected %d %v", status, body)
	}
	if body["authorization"] != "Bearer t" || body["idempotency"] != "k-1" || body["traceparent"] == "" || body["xff"] != "127.0.0.1" {
		t.Fatalf("headers not forwarded: %v", body)
	}
	if body["host"] != strings.TrimPrefix(gw.URL, "http://") || len(body["len"].(string)) != 200 {
		t.Fatalf("host or body not preserved: %v", body)
	}

	req, _ = http.NewRequest(http.MethodGet, gw.URL+"/oauth/token", nil)
	if _, _, body = do(t, req); body["service"] != "identity" {
		t.Fatalf("want identity, got %v", body)
	}
}

func TestUnknownPathIsProblem404(t *testing.T) {
	gw := newTestGateway(t, map[string]string{"claims": upstream(t, "claims", 200).URL})
	for _, path := range []string{"/v1/claimsx", "/nope", "/v1"} {
		req, _ := http.NewRequest(http.MethodGet, gw.URL+path, nil)
		status, ct, body := do(t, req)
		if status != 404 || ct != "application/problem+json" || body["status"] != float64(404) {
			t.Fatalf("%s: %d %s %v", path, status, ct, body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/v1/webhooks/x", nil)
	if status, ct, _ := do(t, req); status != 503 || ct != "application/problem+json" {
		t.Fatalf("route without upstream: %d %s", status, ct)
	}
}

func TestReadyzNamesFailingUpstreams(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	gw := newTestGateway(t, map[string]string{
		"identity":      upstream(t, "identity", 200).URL,
		"claims":        upstream(t, "claims", 503).URL,
		"notifications": down.URL,
	})
	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/readyz", nil)
	status, _, body := do(t, req)
	failing, _ := body["failing"].(map[string]any)
	if status != 503 || len(failing) != 2 || failing["claims"] == nil || failing["notifications"] == nil {
		t.Fatalf("unexpected %d %v", status, body)
	}
	req, _ = http.NewRequest(http.MethodGet, gw.URL+"/healthz", nil)
	if status, _, body := do(t, req); status != 200 || body["status"] != "ok" {
		t.Fatalf("healthz %d %v", status, body)
	}

	ok := newTestGateway(t, map[string]string{"identity": upstream(t, "identity", 200).URL})
	req, _ = http.NewRequest(http.MethodGet, ok.URL+"/readyz", nil)
	if status, _, _ := do(t, req); status != 200 {
		t.Fatalf("readyz with healthy upstreams: %d", status)
	}
}
