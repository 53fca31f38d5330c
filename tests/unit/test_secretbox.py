"""SecretBox: secrets encrypted with the first key, readable with any, rotated to the first;
where keys come from; and errors that never show a key or a secret."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.secretbox import (
    DEV_KEY_FILE,
    SecretBox,
    SecretDecryptError,
    encryption_keys,
    generate_key,
    secret_box,
)
from sales_agent_pipeline.settings import Settings

SECRET = "pat-na1-11111111-2222-3333-4444-555555555555"


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[arg-type]


def test_a_secret_round_trips_and_its_ciphertext_reveals_nothing() -> None:
    key = generate_key()
    box = SecretBox([key])
    ciphertext = box.encrypt(SECRET)
    assert SECRET.encode() not in ciphertext
    assert box.decrypt(ciphertext) == SECRET
    assert key not in repr(box)


def test_the_first_key_encrypts_and_every_key_decrypts() -> None:
    old, new = generate_key(), generate_key()
    written_before = SecretBox([old]).encrypt(SECRET)
    box = SecretBox([new, old])
    assert box.decrypt(written_before) == SECRET
    assert not box.is_current(written_before)
    rotated = box.rotate(written_before)
    assert box.is_current(rotated)
    # Once rotated, the old key can go.
    assert SecretBox([new]).decrypt(rotated) == SECRET
    assert Fernet(new.encode()).decrypt(box.encrypt(SECRET)).decode() == SECRET


def test_a_ciphertext_no_key_opens_is_refused_without_showing_it() -> None:
    ciphertext = SecretBox([generate_key()]).encrypt(SECRET)
    with pytest.raises(SecretDecryptError) as excinfo:
        SecretBox([generate_key()]).decrypt(ciphertext)
    assert ciphertext.decode() not in str(excinfo.value)
    assert "sales-agent secrets rotate" in str(excinfo.value)


def test_a_malformed_key_is_named_by_its_position_only() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        SecretBox([generate_key(), "not-a-fernet-key-but-a-secret"])
    assert "#2" in str(excinfo.value)
    assert "not-a-fernet-key" not in str(excinfo.value)


def test_keys_come_from_the_variable_in_order(tmp_path: Path) -> None:
    first, second = generate_key(), generate_key()
    config = settings(tmp_path, secrets_encryption_keys=f" {first} ,{second},")
    assert encryption_keys(config) == [first, second]
    assert not (tmp_path / DEV_KEY_FILE).exists()


def test_keys_come_from_a_key_file_skipping_comments(tmp_path: Path) -> None:
    first, second = generate_key(), generate_key()
    path = tmp_path / "keys"
    path.write_text(f"# newest first\n{first}\n\n{second}\n")
    assert encryption_keys(settings(tmp_path, secrets_encryption_key_file=path)) == [
        first,
        second,
    ]
    missing = settings(tmp_path, secrets_encryption_key_file=tmp_path / "absent")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        encryption_keys(missing)
    path.write_text("# nothing but a comment\n")
    with pytest.raises(ConfigurationError, match="holds no key"):
        encryption_keys(settings(tmp_path, secrets_encryption_key_file=path))


def test_development_makes_one_private_key_once_even_when_started_twice_at_once(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "fresh"
    config = settings(data_dir)
    found: list[list[str]] = []
    threads = [
        threading.Thread(target=lambda: found.append(encryption_keys(config))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    path = data_dir / DEV_KEY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert len({tuple(keys) for keys in found}) == 1
    assert found[0] == [path.read_text().strip()]
    # A restart reads the same key: what it encrypted stays readable.
    ciphertext = secret_box(config).encrypt(SECRET)
    assert SecretBox(encryption_keys(settings(data_dir))).decrypt(ciphertext) == SECRET


def test_production_never_makes_its_own_key(tmp_path: Path) -> None:
    # Settings refuse this already; the box refuses too, should a process skip them.
    config = Settings.model_construct(
        environment="production",
        data_dir=tmp_path,
        secrets_encryption_keys=None,
        secrets_encryption_key_file=None,
    )
    with pytest.raises(ConfigurationError, match="production never generates its own key"):
        secret_box(config)
    assert not (tmp_path / DEV_KEY_FILE).exists()
