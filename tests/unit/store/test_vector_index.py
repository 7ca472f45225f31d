def test_loading_usearch_first_does_not_crash_onnxruntime_later() -> None:
    """usearch 2.26 then onnxruntime 1.32 in one process segfaulted; the index loads them in the safe order."""
    import subprocess
    import sys

    code = "from llmkit.store.vector_index import usearch_index; usearch_index(); import onnxruntime; print('ok')"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-500:]
