package main

// One OpenAPI document for the whole platform, merged from the services' own
// documents when asked for, so it is never staler than what is running.

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// Pinned so that the page does not change under us; the browser loads it from the CDN.
const swaggerUIVersion = "5.17.14"

const docsPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Provider platform API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@` + swaggerUIVersion + `/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@` + swaggerUIVersion + `/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "./openapi.json", dom_id: "#swagger-ui", deepLinking: true});
</script>
</body>
</html>
`

type serviceDoc struct {
	service string
	doc     map[string]any
}

type docsMerger struct {
	services  []string // services with a public API, in route-table order
	upstreams map[string]*url.URL
	owner     func(path string) (string, bool)
	client    *http.Client
	timeout   time.Duration
	ttl       time.Duration

	mu       sync.Mutex
	cached   []byte
	cachedAt time.Time
}

func newDocsMerger(routes []route, upstreams map[string]*url.URL, owner func(string) (string, bool), client *http.Client) *docsMerger {
	m := &docsMerger{upstreams: upstreams, owner: owner, client: client, timeout: 5 * time.Second, ttl: 5 * time.Second}
	// A routed service without an upstream was not started with this gateway (a
	// subset of the stack): it has nothing to document. One that is started but
	// does not answer is an outage, and fails the document (see fetchAll).
	seen := map[string]bool{}
	for _, rt := range routes {
		if _, up := upstreams[rt.Service]; up && !seen[rt.Service] {
			seen[rt.Service] = true
			m.services = append(m.services, rt.Service)
		}
	}
	return m
}

func (m *docsMerger) serveDocs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(docsPage))
}

func (m *docsMerger) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	body, err := m.document(r.Context())
	if err != nil {
		log.Printf("openapi: %v", err)
		problem(w, http.StatusServiceUnavailable, "Service Unavailable", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// document answers from a cache of a few seconds: a fuzzer or a docs page asks
// for it repeatedly, and the services' documents change only when they restart.
func (m *docsMerger) document(ctx context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cached != nil && time.Since(m.cachedAt) < m.ttl {
		return m.cached, nil
	}
	docs, err := m.fetchAll(ctx)
	if err != nil {
		return nil, err
	}
	merged, err := mergeOpenAPI(docs, m.owner)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	m.cached, m.cachedAt = body, time.Now()
	return body, nil
}

// fetchAll gets every service's document. A missing one fails the whole answer:
// a client generated from a silently partial document would be wrong.
func (m *docsMerger) fetchAll(ctx context.Context) ([]serviceDoc, error) {
	docs := make([]serviceDoc, len(m.services))
	errs := make([]error, len(m.services))
	var wg sync.WaitGroup
	for i, name := range m.services {
		target := m.upstreams[name]
		wg.Add(1)
		go func(i int, name string, target *url.URL) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, m.timeout)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target.JoinPath("/openapi.json").String(), nil)
			resp, err := m.client.Do(req)
			if err != nil {
				errs[i] = fmt.Errorf("openapi.json of %s: %v", name, err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs[i] = fmt.Errorf("openapi.json of %s: status %d", name, resp.StatusCode)
				return
			}
			var doc map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				errs[i] = fmt.Errorf("openapi.json of %s: %v", name, err)
				return
			}
			docs[i] = serviceDoc{name, doc}
		}(i, name, target)
	}
	wg.Wait()
	var failed []string
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err.Error())
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("cannot merge the API documents: %s", strings.Join(failed, "; "))
	}
	return docs, nil
}

// mergeOpenAPI unions the services' paths, tags and components. A component that
// two services define differently is not allowed to clobber the other: the later
// one is renamed "<service>.<Name>" and that service's references follow it. A path
// the route table would not send to the service documenting it is left out (and
// logged): the document must not promise what the base URL cannot answer.
func mergeOpenAPI(docs []serviceDoc, owner func(string) (string, bool)) (map[string]any, error) {
	version := ""
	var names []string
	paths := map[string]any{}
	components := map[string]map[string]any{}
	var tags []any
	tagSeen := map[string]bool{}
	operationIDs := map[string]string{}

	for _, sd := range docs {
		names = append(names, sd.service)
		v, _ := sd.doc["openapi"].(string)
		if version == "" {
			version = v
		} else if v != version {
			return nil, fmt.Errorf("%s serves OpenAPI %q, others %q", sd.service, v, version)
		}

		// Renaming one component changes those that refer to it, which may make
		// them differ in turn: rename until nothing new collides.
		renames := map[string]string{}
		doc := sd.doc
		for {
			added := false
			ownComponents, _ := doc["components"].(map[string]any)
			for section, raw := range ownComponents {
				items, _ := raw.(map[string]any)
				for name, def := range items {
					key := "#/components/" + section + "/" + name
					if _, done := renames[key]; done {
						continue
					}
					if existing, ok := components[section][name]; ok && !reflect.DeepEqual(existing, def) {
						renames[key] = "#/components/" + section + "/" + sd.service + "." + name
						added = true
					}
				}
			}
			if !added {
				break
			}
			doc = rewriteRefs(sd.doc, renames).(map[string]any)
		}
		ownComponents, _ := doc["components"].(map[string]any)
		for section, raw := range ownComponents {
			items, _ := raw.(map[string]any)
			if components[section] == nil {
				components[section] = map[string]any{}
			}
			for name, def := range items {
				target := name
				if _, renamed := renames["#/components/"+section+"/"+name]; renamed {
					target = sd.service + "." + name
				}
				if existing, ok := components[section][target]; ok && !reflect.DeepEqual(existing, def) {
					return nil, fmt.Errorf("component %s/%s of %s collides even after renaming", section, target, sd.service)
				}
				components[section][target] = def
			}
		}

		ownPaths, _ := doc["paths"].(map[string]any)
		for _, p := range sortedKeys(ownPaths) {
			if routed, ok := owner(p); !ok || routed != sd.service {
				log.Printf("openapi: %s documents %s, which the route table sends to %q: left out", sd.service, p, routed)
				continue
			}
			if _, dup := paths[p]; dup {
				return nil, fmt.Errorf("path %s is documented by two services", p)
			}
			item, _ := ownPaths[p].(map[string]any)
			for _, op := range item {
				operation, ok := op.(map[string]any)
				if !ok {
					continue
				}
				if id, ok := operation["operationId"].(string); ok {
					if other, dup := operationIDs[id]; dup && other != sd.service {
						id = sd.service + "_" + id
						operation["operationId"] = id
					}
					operationIDs[id] = sd.service
				}
			}
			paths[p] = item
		}
		ownTags, _ := doc["tags"].([]any)
		for _, t := range ownTags {
			if tm, ok := t.(map[string]any); ok {
				if name, _ := tm["name"].(string); !tagSeen[name] {
					tagSeen[name] = true
					tags = append(tags, t)
				}
			}
		}
	}

	merged := map[string]any{
		"openapi": version,
		"info": map[string]any{
			"title":       "Provider platform API",
			"version":     "1.0.0",
			"description": "Every service's API behind one base URL (merged from: " + strings.Join(names, ", ") + "). Errors are RFC 9457 application/problem+json.",
		},
		"paths": paths,
	}
	if len(components) > 0 {
		out := map[string]any{}
		for section, items := range components {
			out[section] = items
		}
		merged["components"] = out
	}
	if len(tags) > 0 {
		merged["tags"] = tags
	}
	return merged, nil
}

func rewriteRefs(v any, renames map[string]string) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, child := range t {
			if s, ok := child.(string); ok && k == "$ref" {
				if to, ok := renames[s]; ok {
					out[k] = to
					continue
				}
			}
			out[k] = rewriteRefs(child, renames)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, child := range t {
			out[i] = rewriteRefs(child, renames)
		}
		return out
	default:
		return v
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
