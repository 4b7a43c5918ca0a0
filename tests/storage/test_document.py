import json
import subprocess
import sys

import pytest

from pyro_vae.errors import InputError
from pyro_vae.storage.document import CONFIG_FILE, FORMAT, read_document


def test_a_run_document_is_read_and_checked(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_document(tmp_path / "missing")
    with pytest.raises(InputError, match="not a pyro-vae run directory"):
        read_document(tmp_path)
    (tmp_path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        read_document(tmp_path)
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"format": "other/1"}))
    with pytest.raises(InputError, match=f"not a {FORMAT} config"):
        read_document(tmp_path)
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"format": FORMAT, "settings": {}}))
    assert read_document(str(tmp_path)) == {"format": FORMAT, "settings": {}}


def test_reading_a_document_imports_no_torch():
    program = "import sys, pyro_vae.storage.document; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.stdout.strip() == "False"
