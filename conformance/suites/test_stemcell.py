"""Stemcells: a heavy stemcell becomes a Glance image; a light one points at an existing image;
deletes clean up (and are idempotent)."""

import uuid

import pytest

from conformance.cpi import director

pytestmark = [pytest.mark.capability("stemcell")]


@pytest.mark.case("4193631d-ba79-4f66-adc2-b4e355c84123")
def test_heavy_stemcell_becomes_an_active_image(cloud, stemcell, record_property):
    """create_stemcell of a heavy stemcell MUST make an active Glance image, the one its cid names
    (bosh.io CPI API v2 create_stemcell: "Creates a reusable VM image in the IaaS from the
    stemcell image").

    Steps: the run's stemcell was uploaded through the CPI, as jobs/update_stemcell.rb sends it
    (the extracted image file, the manifest's cloud_properties); the witnesses show the image active.
    """
    props = stemcell.cloud_properties
    wanted = (props.get("disk_format"), props.get("container_format"))
    for seen in cloud.checks("the stemcell's image is active"):
        with seen as w:
            image = w.image(stemcell.cid.split()[0])
            assert image is not None and image.active, f"{w.name}: image for stemcell cid {stemcell.cid}: {image}"
            if (image.disk_format, image.container_format) != wanted:
                record_property("observation", f"image formats {(image.disk_format, image.container_format)} differ "
                                               f"from the manifest's cloud_properties {wanted} (a CPI may convert the "
                                               "image)")


@pytest.mark.case("54079572-deda-41a4-ad75-e6b7e964e262")
def test_delete_stemcell_removes_the_image(cpi, cloud, stemcell, profile, cleanup):
    """delete_stemcell MUST remove the stemcell's image (bosh.io delete_stemcell: "Deletes
    previously created stemcell"); deleting it again MUST return normally (Director:
    jobs/helpers/stemcell_deleter.rb forgets a stemcell only after delete_stemcell succeeds and
    rescues no error type).

    Steps: upload the stemcell a second time; delete it; the witnesses show no such image;
    delete again.
    """
    cid = cpi.send(director.create_stemcell(stemcell.image_path, stemcell.cloud_properties),
                   timeout=profile.timeouts.stemcell_upload)
    cleanup.add(f"delete stemcell {cid}", cpi.send, director.delete_stemcell(cid), resource=("image", cid))
    image_id = cid.split()[0]
    for seen in cloud.checks("create_stemcell made the image its cid names"):
        with seen as w:
            assert w.image(image_id) is not None, f"{w.name}: no image for stemcell {cid}"
    cpi.send(director.delete_stemcell(cid))
    for seen in cloud.checks("the image is gone after delete_stemcell"):
        with seen as w:
            w.wait_for_image_gone(image_id, after="delete_stemcell answered OK")
    cpi.send(director.delete_stemcell(cid))


@pytest.mark.case("a6da8829-42ba-401d-8304-ca79adaf94f8")
@pytest.mark.requires("light_stemcell")
def test_light_stemcell_points_at_an_existing_image(cpi, cloud, stemcell, profile, cleanup, tmp_path,
                                                    record_property):
    """create_stemcell of a light stemcell (cloud_properties.image_id; the CPI's info lists
    openstack-light) MUST answer a cid without uploading an image, and delete_stemcell of it MUST
    leave the image alone (bosh.io create_stemcell / delete_stemcell; the image is not the CPI's).

    Steps: create a light stemcell for the heavy stemcell's image (or the profile's
    light_image_id), passing the empty image file a light tarball holds (jobs/update_stemcell.rb
    passes the extracted ``image``); no new image appears; delete it; the image is still there.
    """
    image_id = profile.stemcell.light_image_id or stemcell.cid.split()[0]
    image_file = tmp_path / "image"
    image_file.write_bytes(b"")
    before = cloud.each(lambda w: w.image_ids())
    cid = cpi.send(director.create_stemcell(str(image_file), {**stemcell.cloud_properties, "image_id": image_id}))
    cleanup.add(f"delete light stemcell {cid}", cpi.send, director.delete_stemcell(cid))
    if cid.split()[0] != image_id:
        record_property("observation", f"light stemcell cid {cid!r} does not start with image id {image_id}")
    for seen in cloud.checks("a light stemcell uploads no image"):
        with seen as w:
            assert w.image_ids() <= before.of(w) | {image_id}, f"{w.name}: a light stemcell uploaded an image"
    cpi.send(director.delete_stemcell(cid))
    for seen in cloud.checks("delete_stemcell of a light stemcell leaves its image"):
        with seen as w:
            assert w.image(image_id) is not None, f"{w.name}: delete_stemcell of a light stemcell deleted its image"


@pytest.mark.case("77699417-fb53-4b61-8c5a-4e5666824ee0")
def test_delete_of_a_missing_stemcell_returns_normally(cpi):
    """delete_stemcell of a stemcell that never existed MUST return normally (Director:
    jobs/helpers/stemcell_deleter.rb rescues no error type; only ``--force`` gets past one).

    Steps: delete a made-up stemcell cid.
    """
    cpi.send(director.delete_stemcell(str(uuid.uuid4())))
