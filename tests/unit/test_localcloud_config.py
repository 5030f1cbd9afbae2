"""Config rendering of the local cloud: ini merge, uwsgi and libvirt edits, the pitfall settings."""

from __future__ import annotations

import pytest

from conformance.localcloud import configs, ini
from conformance.localcloud.passwords import NAMES, Passwords

pytestmark = pytest.mark.unit

PW = Passwords({name: f"pw-{name}" for name in NAMES})


def test_merge_ini_sets_replaces_and_deletes_keeping_other_options():
    text = "[DEFAULT]\nmy_ip = 192.0.2.2\nKeepCase = x\n[lvm]\nvolume_group = cinder\n[database]\nconnection = sqlite://\n"
    out = ini.merge_ini_text(
        text, {"DEFAULT": {"my_ip": "127.0.0.1", "KeepCase": None}, "new": {"flag": True}}, drop_sections=["lvm"]
    )
    assert out == (
        "[DEFAULT]\nmy_ip = 127.0.0.1\n\n[database]\nconnection = sqlite://\n\n[new]\nflag = true\n\n"
    )


def test_merge_ini_is_a_fixed_point():
    once = ini.merge_ini_text("", configs.nova(PW))
    assert ini.merge_ini_text(once, configs.nova(PW)) == once


def test_merge_ini_writes_only_on_change(tmp_path):
    path = tmp_path / "x.conf"
    path.write_text("[a]\nb = 1\n")
    assert ini.merge_ini(path, {"a": {"b": 2}}) is True
    assert ini.merge_ini(path, {"a": {"b": 2}}) is False


def test_uwsgi_edit_applies_pitfalls_4_and_5_and_drops_apparmor():
    text = (
        "[uwsgi]\nplugins = python3,apparmor\napparmor-profile = keystone\nprocesses = 8\nthreads = 32\n"
        "logto = /var/log/keystone/keystone.log\nenv = A=1\nenv = B=2\n"
    )
    out = ini.edit_uwsgi_text(text, {**configs.UWSGI_OPTIONS, "logto": None}, configs.UWSGI_APPEND)
    lines = out.splitlines()
    assert "apparmor" not in out
    assert {"plugins = python3", "processes = 2", "threads = 1", "die-on-term = true"} <= set(lines)
    assert lines.count("add-header = Connection: close") == 1
    assert ["env = A=1", "env = B=2"] == [line for line in lines if line.startswith("env")], "repeats kept"
    assert "logto" not in out
    assert ini.edit_uwsgi_text(out, {**configs.UWSGI_OPTIONS, "logto": None}, configs.UWSGI_APPEND) == out


def test_libvirtd_flat_edit_replaces_commented_defaults_once():
    text = '# comment line\n#unix_sock_group = "libvirt"\n#auth_unix_rw = "polkit"\nlisten_tls = 0\n'
    out = ini.edit_flat_text(text, configs.LIBVIRTD)
    assert 'unix_sock_group = "libvirt"' in out.splitlines()
    assert 'auth_unix_rw = "none"' in out.splitlines()
    assert "listen_tls = 0" in out and "# comment line" in out
    assert ini.edit_flat_text(out, configs.LIBVIRTD) == out


def test_nova_config_carries_the_spike_pitfall_fixes():
    nova = configs.nova(PW)
    assert nova["oslo_messaging_rabbit"]["heartbeat_timeout_threshold"] == 0, "pitfall 4"
    assert nova["service_user"]["send_service_user_token"] is True, "pitfall 3"
    assert nova["libvirt"] == {"virt_type": "qemu", "cpu_mode": "none"}, "TCG"
    assert nova["DEFAULT"]["transport_url"] == "rabbit://openstack:pw-rabbit@127.0.0.1:5672/"
    assert nova["api_database"]["connection"].endswith(":pw-db_nova@127.0.0.1/nova_api"), "pitfall 2"


def test_cinder_requires_service_token_role_and_uses_rbd():
    cinder = configs.cinder(PW)
    assert cinder["keystone_authtoken"]["service_token_roles"] == "service"
    assert cinder["keystone_authtoken"]["service_token_roles_required"] is True
    assert cinder["keystone_authtoken"]["username"] == "cinder", "pitfall 8: user matches the service user"
    assert cinder["ceph"]["volume_driver"] == "cinder.volume.drivers.rbd.RBDDriver"


def test_neutron_linuxbridge_vxlan_on_br_vx_and_flat_public_on_br_ex():
    assert configs.neutron(PW)["experimental"] == {"linuxbridge": True}
    agent = configs.linuxbridge_agent()
    assert agent["linux_bridge"]["bridge_mappings"] == "public:br-ex"
    assert agent["vxlan"]["local_ip"] == "10.250.0.1"
    assert configs.ml2()["ml2"]["mechanism_drivers"] == "linuxbridge,l2population"
