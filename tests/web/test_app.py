from kb_service.content.load import load_corpus


def test_health(client):
    r = client.get("/api/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_site_home_is_served(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "<title>物业沟通知识库</title>" in r.text


def test_unknown_page_gets_site_404(client):
    r = client.get("/no/such/page/")
    assert r.status_code == 404
    assert "物业沟通知识库" in r.text and "404" in r.text


def test_unknown_api_path_is_json_404(client):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert "error" in r.json()


def test_generated_script_page_is_served(client, built_project):
    corpus, _ = load_corpus(built_project / "snippets")
    r = client.get("/scripts/complaint.intake/")
    assert r.status_code == 200
    assert "complaint.intake" in r.text and corpus.scripts["complaint.intake"].title in r.text


def test_script_api(client, built_project):
    corpus, _ = load_corpus(built_project / "snippets")
    script = corpus.scripts["complaint.intake"]
    r = client.get("/api/scripts/complaint.intake")
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == script.title
    assert body["steps"] and all("say" in s or "do" in s for s in body["steps"])
    # Commitments carry their values from standards.yaml (read here from the same file).
    assert {c["id"]: c["text"] for c in body["commitments"]} == {
        sid: corpus.standards[sid].text for sid in script.commitments}
    assert client.get("/api/scripts/no.such-script").status_code == 404


def test_search_bad_parameters_are_4xx(client):
    assert client.get("/api/search", params={"q": "停水", "limit": "x"}).status_code == 400
    assert client.get("/api/search", params={"q": "停水", "limit": "0"}).status_code == 400
    assert client.get("/api/search", params={"q": "停水", "kind": "nope"}).status_code == 400
    assert client.get("/api/search", params={"q": "停" * 201}).status_code == 400
    r = client.get("/api/search", params={"q": ""})
    assert r.status_code == 200 and r.json()["results"] == []


def test_what_a_worker_loads_at_start_is_kept_out_of_full_collections(client):
    """The content, index and postings live as long as the worker: frozen (gc.freeze) when it
    starts, so the collector's full passes do not walk them; a full pass walked some 450,000
    objects (80 ms or more, a stall for one request: bench/gc_pause.py)."""
    import gc

    postings = client.app.state.services.searcher.postings
    assert gc.is_tracked(postings.docs) and gc.get_freeze_count() > 100_000
    assert not any(o is postings.docs for o in gc.get_objects(generation=2))
