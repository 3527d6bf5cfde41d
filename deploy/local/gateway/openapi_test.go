package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func docServer(t *testing.T, doc string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/openapi.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(doc))
	}))
	t.Cleanup(srv.Close)
	return srv
}

const problemSchema = `{"type": "object", "required": ["type", "title", "status", "detail", "code"]}`

func TestMergesPathsAndKeepsDifferingComponentsApart(t *testing.T) {
	identity := docServer(t, `{"openapi": "3.1.0", "tags": [{"name": "admin"}],
		"paths": {"/oauth/token": {"post": {"operationId": "token", "responses": {"401": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}}}},
		          "/internal": {"get": {"operationId": "internal"}}},
		"components": {"schemas": {"Problem": `+problemSchema+`, "Line": {"type": "string"}}}}`)
	claims := docServer(t, `{"openapi": "3.1.0", "tags": [{"name": "admin"}, {"name": "claims"}],
		"paths": {"/v1/claims": {"post": {"operationId": "token", "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Claim"}}}}}}},
		"components": {"schemas": {"Problem": `+problemSchema+`, "Line": {"type": "integer"},
		                           "Claim": {"type": "object", "properties": {"line": {"$ref": "#/components/schemas/Line"}}}}}}`)
	gw := newTestGateway(t, map[string]string{"identity": identity.URL, "claims": claims.URL})

	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/openapi.json", nil)
	status, ct, doc := do(t, req)
	if status != 200 || ct != "application/json" {
		t.Fatalf("%d %s %v", status, ct, doc)
	}
	paths := doc["paths"].(map[string]any)
	if _, ok := paths["/oauth/token"]; !ok || paths["/v1/claims"] == nil || len(paths) != 2 {
		t.Fatalf("paths %v (the unroutable /internal must be left out)", paths)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	if schemas["Problem"] == nil || schemas["claims.Problem"] != nil {
		t.Fatalf("equal components must be merged into one: %v", schemas)
	}
	if schemas["Line"].(map[string]any)["type"] != "string" || schemas["claims.Line"].(map[string]any)["type"] != "integer" {
		t.Fatalf("differing components must both survive: %v", schemas)
	}
	// claims' Claim referred to its own Line, so it now refers to claims.Line and differs from nothing.
	claim, _ := json.Marshal(schemas["Claim"])
	if !strings.Contains(string(claim), `"#/components/schemas/claims.Line"`) {
		t.Fatalf("reference not rewritten: %s", claim)
	}
	op := paths["/v1/claims"].(map[string]any)["post"].(map[string]any)
	if op["operationId"] != "claims_token" {
		t.Fatalf("duplicate operationId kept: %v", op["operationId"])
	}
	if tags := doc["tags"].([]any); len(tags) != 2 {
		t.Fatalf("tags %v", tags)
	}
}

func TestOpenAPIIsAProblemWhenAServiceCannotBeAsked(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	gw := newTestGateway(t, map[string]string{"identity": docServer(t, `{"openapi": "3.1.0", "paths": {}}`).URL, "claims": down.URL})
	req, _ := http.NewRequest(http.MethodGet, gw.URL+"/openapi.json", nil)
	status, ct, body := do(t, req)
	if status != 503 || ct != "application/problem+json" || !strings.Contains(body["detail"].(string), "claims") {
		t.Fatalf("%d %s %v", status, ct, body)
	}
}

func TestDocsPagePointsAtTheMergedDocument(t *testing.T) {
	gw := newTestGateway(t, map[string]string{})
	resp, err := http.Get(gw.URL + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		page.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(page.String(), `url: "./openapi.json"`) || !strings.Contains(page.String(), "swagger-ui-dist@"+swaggerUIVersion) {
		t.Fatalf("%d %s", resp.StatusCode, page.String())
	}
}

func TestMergedDocumentIsCachedBriefly(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		_, _ = w.Write([]byte(`{"openapi": "3.1.0", "paths": {}}`))
	}))
	t.Cleanup(srv.Close)
	g, err := newGateway([]route{{"/oauth", "identity"}}, map[string]string{"identity": srv.URL}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := g.docs.document(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Fatalf("%d fetches for 3 requests", calls)
	}
}
