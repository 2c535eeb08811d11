from django.db import connection

from connections.models import Destination, Source, SourceKind


def test_destination_secrets_are_encrypted_at_rest_and_masked(workspace):
    dest = Destination(workspace=workspace, name="Hook", kind="webhook")
    dest.settings = {"url": "https://example.com/hook", "shared_secret": "s3cr3t-value-123456"}
    dest.save()

    with connection.cursor() as cursor:
        cursor.execute("SELECT config, secrets_encrypted FROM connections_destination WHERE id = %s", [dest.id])
        raw = " ".join(str(c) for c in cursor.fetchone())
    assert "s3cr3t-value-123456" not in raw
    assert Destination.objects.get(id=dest.id).settings["shared_secret"] == "s3cr3t-value-123456"
    assert "s3cr3t" not in str(dest.masked_settings())


def test_write_keys_are_unique_and_rotate(workspace):
    a = Source.objects.create(workspace=workspace, name="A", kind=SourceKind.HTTP)
    b = Source.objects.create(workspace=workspace, name="B", kind=SourceKind.HTTP)
    assert a.write_key != b.write_key and len(a.write_key) >= 32
    old = a.write_key
    a.rotate_write_key()
    assert Source.objects.get(id=a.id).write_key not in (old, b.write_key)
