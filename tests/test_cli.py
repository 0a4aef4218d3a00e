import socket

import httpx

from conftest import Server, copy_project, kb


def test_build_reports_what_it_built(cli_build):
    """The session's `kb build` (conftest.cli_build: the build every site test reads)."""
    result, project = cli_build, cli_build.project
    assert result.returncode == 0, result.stderr
    assert "站点已构建" in result.stdout and "检索索引已构建" in result.stdout
    assert (project / "site" / "index.html").exists()
    assert (project / "site" / "404.html").exists()
    assert "Traceback" not in result.stderr
    # The Material end-of-life banner and other noise stay out of the build output.
    assert "MkDocs 2.0" not in result.stderr + result.stdout


def test_lint_clean_content_exits_zero(tmp_path):
    project = copy_project(tmp_path / "p")
    result = kb("lint", env={"KB_PROJECT_DIR": str(project)})
    assert result.returncode == 0, result.stdout
    assert "0 个错误" in result.stderr


def test_lint_points_at_file_line_col(tmp_path):
    project = copy_project(tmp_path / "p")
    path = project / "snippets" / "scripts" / "complaint.intake.yaml"
    text = path.read_text(encoding="utf-8").replace("kind: script\n", "kind: script\ncolour: red\n", 1)
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("colour: red") + 1
    result = kb("lint", env={"KB_PROJECT_DIR": str(project)})
    assert result.returncode == 1
    assert f"snippets/scripts/complaint.intake.yaml:{line}:1: 未知的键 'colour'" in result.stdout


def test_build_refuses_broken_content_without_traceback(tmp_path):
    project = copy_project(tmp_path / "p")
    (project / "snippets" / "scripts" / "complaint.intake.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    result = kb("build", env={"KB_PROJECT_DIR": str(project), "KB_DATA_DIR": str(tmp_path / "var")})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "complaint.intake.yaml:" in result.stderr


def test_serve_answers_over_http(built_project, tmp_path):
    server = Server(built_project, built_project / "var")
    try:
        server.wait()
        home = httpx.get(server.url + "/")
        assert home.status_code == 200 and "物业沟通知识库" in home.text
        assert httpx.get(server.url + "/api/health").json() == {"status": "ok"}
    finally:
        out = server.stop()
    assert f"http://127.0.0.1:{server.port}/" in out
    assert "站点" in out and "检索索引" in out


def test_serve_port_taken_is_one_clear_line(built_project):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = kb("serve", "--port", str(port),
                    env={"KB_PROJECT_DIR": str(built_project), "KB_DATA_DIR": str(built_project / "var")})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"端口 {port} 已被占用" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_serve_unwritable_data_dir(built_project, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = kb("serve", "--port", "0", env={"KB_PROJECT_DIR": str(built_project),
                                             "KB_DATA_DIR": str(blocker / "data")})
    assert result.returncode == 2
    assert "不可写" in result.stderr and "Traceback" not in result.stderr


def test_bad_environment_is_a_usage_error(built_project):
    result = kb("lint", env={"KB_PROJECT_DIR": str(built_project), "KB_FEEDBACK_RATE_LIMIT": "lots"})
    assert result.returncode == 2
    assert "KB_FEEDBACK_RATE_LIMIT" in result.stderr


def test_unknown_command_is_usage_error():
    assert kb("frobnicate").returncode == 2
