"""Stemcells: a heavy stemcell becomes a Glance image with the manifest's properties; a light one
points at an existing image; deletes clean up (and are idempotent)."""

import uuid

import pytest

pytestmark = [pytest.mark.capability("stemcell")]


@pytest.mark.case("4193631d-ba79-4f66-adc2-b4e355c84123")
def test_heavy_stemcell_becomes_an_active_image_with_the_manifest_formats(cloud, stemcell):
    """create_stemcell of a heavy stemcell MUST upload an active Glance image with the disk and
    container formats of the stemcell's manifest.

    Steps: the run's stemcell was uploaded through the CPI; read the image from Glance.
    """
    image = cloud.image(stemcell.cid)
    assert image is not None and image.status == "active", f"image {stemcell.cid}"
    props = stemcell.cloud_properties
    assert (image.disk_format, image.container_format) == (props["disk_format"], props["container_format"]), (
        "image formats vs stemcell.MF cloud_properties")


@pytest.mark.case("54079572-deda-41a4-ad75-e6b7e964e262")
def test_delete_stemcell_removes_the_image(cpi, cloud, stemcell, profile, cleanup):
    """delete_stemcell MUST remove the stemcell's image; deleting it again MUST return normally.

    Steps: upload the stemcell a second time; delete it; Glance shows no such image; delete again.
    """
    cid = cpi.create_stemcell(stemcell.image_path, stemcell.cloud_properties,
                              timeout=profile.timeouts.stemcell_upload)
    cleanup.add(f"delete stemcell {cid}", cpi.delete_stemcell, cid, resource=("image", cid))
    assert cloud.image(cid) is not None, f"no Glance image for stemcell {cid}"
    cpi.delete_stemcell(cid)
    cloud.wait_for_image_gone(cid, timeout=profile.timeouts.vm_delete)
    cpi.delete_stemcell(cid)


@pytest.mark.case("a6da8829-42ba-401d-8304-ca79adaf94f8")
@pytest.mark.requires("light_stemcell")
def test_light_stemcell_points_at_an_existing_image(cpi, cloud, stemcell, profile, cleanup):
    """create_stemcell of a light stemcell (cloud_properties.image_id) MUST answer a cid for that
    image without uploading; delete_stemcell of it MUST leave the image alone.

    Steps: create a light stemcell for the heavy stemcell's image (or the profile's
    light_image_id); no new image appears; delete it; the image is still there.
    """
    image_id = profile.stemcell.light_image_id or stemcell.cid
    before = {i.id for i in cloud.conn.image.images()}
    cid = cpi.create_stemcell("", {**stemcell.cloud_properties, "image_id": image_id})
    cleanup.add(f"delete light stemcell {cid}", cpi.delete_stemcell, cid)
    assert cid.split()[0] == image_id, f"light stemcell cid {cid!r} does not name image {image_id}"
    assert {i.id for i in cloud.conn.image.images()} <= before | {image_id}, "a light stemcell uploaded an image"
    cpi.delete_stemcell(cid)
    assert cloud.image(image_id) is not None, "delete_stemcell of a light stemcell deleted its image"


@pytest.mark.case("77699417-fb53-4b61-8c5a-4e5666824ee0")
def test_delete_of_a_missing_stemcell_returns_normally(cpi):
    """delete_stemcell of a stemcell that never existed MUST return normally.

    Steps: delete a made-up stemcell cid.
    """
    cpi.delete_stemcell(str(uuid.uuid4()))
