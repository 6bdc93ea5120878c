"""Each class of configuration mistake fails in validation, naming the key, before any API call."""

from __future__ import annotations

from typing import Any

import pytest

from components.model.catalog import SERVICE_NAMES
from components.model.settings import ConfigError, Settings, load_settings
from tests.unit.stackconfig import TOKEN_ENV, stack_config

PROD_PINS = {
    "traderx:promote": dict.fromkeys(SERVICE_NAMES, 1),
    "traderx:databasePassword": "s3cret-pw",
}


def load(stack: str, environ: dict[str, str] | None = None, /, **overrides: Any) -> Settings:
    cfg = stack_config(stack, **overrides)
    return load_settings(
        cfg, project="traderx", stack=stack, environ=TOKEN_ENV if environ is None else environ
    )


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_committed_stack_configs_are_valid(stack: str) -> None:
    s = load(stack)
    assert s.environment == stack
    assert s.confighub.url == "http://127.0.0.1:8765"
    assert s.namespace == f"traderx-{stack}"


def test_committed_prod_config_needs_pins_and_password() -> None:
    with pytest.raises(ConfigError) as err:
        load("prod")
    text = str(err.value)
    assert "traderx:databasePassword is unset" in text
    assert "traderx:services.trade-service.image" in text
    s = load("prod", **PROD_PINS)
    assert s.replicas_for("trade-service") == 3
    assert s.upstream_stack == "organization/traderx/staging"
    assert "s3cret-pw" not in repr(s)  # secrets are SecretStr


def test_wrong_type_names_key_and_value() -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", **{"traderx:applyTimeoutSeconds": "soon"})
    assert 'traderx:applyTimeoutSeconds = "soon"' in str(err.value)
    assert "valid integer" in str(err.value)


def test_wrong_type_in_nested_object() -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", **{"traderx:ingress": {"tls": "maybe"}})
    assert "traderx:ingress.tls" in str(err.value)


def test_unknown_service() -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", **{"traderx:services": {"web-gui": {"replicas": 2}}})
    text = str(err.value)
    assert "traderx:services.web-gui" in text
    assert "'web-front-end'" in text  # says what is allowed


def test_unknown_key_lists_allowed_keys() -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", **{"traderx:replica": "2"})
    assert "traderx:replica: unknown key; allowed:" in str(err.value)


def test_negative_replicas() -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", **{"traderx:services": {"account-service": {"replicas": -1}}})
    text = str(err.value)
    assert "traderx:services.account-service.replicas = -1" in text
    assert "greater than or equal to 1" in text


@pytest.mark.parametrize("value", ["lots", "1.5 Gi", "-1", "512MB"])
def test_resource_quantity_must_be_a_kubernetes_quantity(value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", **{"traderx:services": {"trade-service": {"resources": {"cpuLimit": value}}}})
    text = str(err.value)
    assert f'traderx:services.trade-service.resources.cpuLimit = "{value}"' in text
    assert "must be a Kubernetes quantity" in text


def test_replicas_that_would_break_the_system() -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", **{"traderx:services": {"trade-processor": {"replicas": 2}}})
    text = str(err.value)
    assert "traderx:services.trade-processor.replicas = 2: allowed only 1" in text
    assert "duplicate trades" in text


def test_missing_token() -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", {})
    assert "confighub:token is unset" in str(err.value)


def test_token_from_config_wins_and_never_shows() -> None:
    s = load("dev", {}, **{"confighub:token": "abc123"})
    assert s.confighub.token.get_secret_value() == "abc123"
    assert "abc123" not in repr(s)


def test_bad_url_names_key() -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", **{"confighub:url": "http://127.0.0.1:8765/api"})
    assert "confighub:url" in str(err.value)


def test_secret_values_are_never_echoed() -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", **{"traderx:databasePassword": {"not": "a string"}})
    assert "traderx:databasePassword = [secret]" in str(err.value)
    assert "a string" not in str(err.value)


def test_promotion_pins_only_downstream() -> None:
    with pytest.raises(ConfigError) as err:
        load("dev", **{"traderx:promote": {"trade-service": 2}})
    assert "traderx:promote" in str(err.value)
    s = load("staging", **{"traderx:promote": {"trade-service": 2}})
    assert s.promote == {"trade-service": 2}
    # the namespace and ingress units move by promotion too (routes are code)
    s = load("staging", **{"traderx:promote": {"ingress": 3, "namespace": 2}})
    assert s.promote == {"ingress": 3, "namespace": 2}


def test_promotion_pin_must_be_positive() -> None:
    with pytest.raises(ConfigError) as err:
        load("staging", **{"traderx:promote": {"trade-service": 0}})
    assert "traderx:promote.trade-service = 0" in str(err.value)


def test_unknown_environment() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({}, project="traderx", stack="qa", environ=TOKEN_ENV)
    assert "traderx:environment" in str(err.value)
    assert "dev, staging, prod" in str(err.value)


def test_image_overrides_and_digest() -> None:
    digest = "sha256:" + "a" * 64
    s = load(
        "dev",
        **{
            "traderx:services": {
                "trade-service": {"image": {"tag": "v2"}},
                "database": {"image": {"registry": "reg.local/tx", "digest": digest}},
            }
        },
    )
    assert s.image_for("trade-service") == "ghcr.io/finos/traderx/trade-service:v2"
    assert s.image_for("database") == f"reg.local/tx/database@{digest}"
    assert s.image_for("web-front-end").endswith("/web-front-end-angular:latest")


def test_prefix_default_is_deterministic_and_configurable() -> None:
    assert load("dev").prefix == load("dev").prefix
    assert load("dev", **{"traderx:prefix": "team-a"}).prefix == "team-a"
    with pytest.raises(ConfigError) as err:
        load("dev", **{"traderx:prefix": "Bad Prefix"})
    assert 'traderx:prefix = "Bad Prefix"' in str(err.value)


@pytest.mark.parametrize(("stack", "protected"), [("dev", False), ("staging", False)])
def test_protect_defaults_off_outside_prod(stack: str, protected: bool) -> None:
    assert load(stack).protected is protected
    assert load(stack, **{"traderx:protect": "true"}).protected is True


def test_protect_defaults_on_in_prod_and_can_be_turned_off() -> None:
    assert load("prod", **PROD_PINS).protected is True
    assert load("prod", **PROD_PINS, **{"traderx:protect": "false"}).protected is False
    cfg = stack_config("prod", **PROD_PINS)
    del cfg["traderx:protect"]  # the committed file sets it; the default is the same
    s = load_settings(cfg, project="traderx", stack="prod", environ=TOKEN_ENV)
    assert s.protected is True


def test_protect_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError) as err:
        load("prod", **PROD_PINS, **{"traderx:protect": "sometimes"})
    assert 'traderx:protect = "sometimes"' in str(err.value)
    assert "boolean" in str(err.value)


def test_prod_defaults_keep_critical_stateless_at_three_and_singletons_at_one() -> None:
    from components.model.catalog import CRITICAL_STATELESS, SERVICE_BY_NAME

    s = load("prod", **PROD_PINS)
    assert set(CRITICAL_STATELESS) == {"reference-data", "position-service", "trade-service"}
    for name in CRITICAL_STATELESS:
        assert s.replicas_for(name) >= 3, name
    for name in ("database", "trade-feed", "trade-processor"):
        assert s.replicas_for(name) == 1, name
    # the catalog default alone (no Pulumi.prod.yaml replicas) also gives 3
    bare = load("prod", **PROD_PINS, **{"traderx:services": {}})
    assert {n: bare.replicas_for(n) for n in CRITICAL_STATELESS} == dict.fromkeys(
        CRITICAL_STATELESS, 3
    )
    assert bare.replicas_for("people-service") == 2
    assert SERVICE_BY_NAME["people-service"].critical is False


def test_prod_pin_in_config_overrides_promotion_but_latest_is_refused() -> None:
    digest = "sha256:" + "0" * 64
    s = load(
        "prod",
        **PROD_PINS,
        **{"traderx:services": {"trade-service": {"image": {"digest": digest}}}},
    )
    assert s.pins_image("trade-service") and not s.pins_image("database")
    assert s.image_for("trade-service") == f"ghcr.io/finos/traderx/trade-service@{digest}"
    with pytest.raises(ConfigError) as err:
        load(
            "prod",
            **PROD_PINS,
            **{"traderx:services": {"trade-service": {"image": {"tag": "latest"}}}},
        )
    assert "traderx:services.trade-service.image" in str(err.value)


def test_delivery_bluegreen_only_for_trade_service_in_prod() -> None:
    from components.model.rollout_stack import delivery_annotations, handed_over_fields

    prod = load("prod", **PROD_PINS,
                **{"traderx:services": {"trade-service": {"delivery": "bluegreen"}}})  # fmt: skip
    assert prod.hands_over_replicas("trade-service")
    assert handed_over_fields(prod, "trade-service") == [
        'fields["Deployment/trade-service:/spec/replicas"]'
    ]
    assert delivery_annotations(prod, "trade-service") == {"traderx/delivery": "bluegreen"}
    assert handed_over_fields(prod, "position-service") == []
    assert handed_over_fields(load("prod", **PROD_PINS), "trade-service") == []
    with pytest.raises(ConfigError) as err:
        load("staging", **{"traderx:services": {"trade-service": {"delivery": "bluegreen"}}})
    assert "traderx:services.trade-service.delivery" in str(err.value)
    assert "trade-service in prod only" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load(
            "prod",
            **PROD_PINS,
            **{"traderx:services": {"reference-data": {"delivery": "bluegreen"}}},
        )
    assert "traderx:services.reference-data.delivery" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load("prod", **PROD_PINS, **{"traderx:services": {"trade-service": {"delivery": "canary"}}})
    assert "delivery" in str(err.value)


def test_database_storage_defaults_and_bad_values_name_the_key() -> None:
    s = load("dev")
    assert (s.database_storage, s.database_storage_class) == ("1Gi", None)
    assert not s.configures("database_storage")
    for key, value in (
        ("traderx:databaseStorage", "1.5Gi"),
        ("traderx:databaseStorage", "0Gi"),
        ("traderx:databaseStorage", "10GB"),
        ("traderx:databaseStorageClass", "Fast_SSD"),
    ):
        with pytest.raises(ConfigError) as err:
            load("dev", **{key: value})
        assert f"{key} = " in str(err.value) and value in str(err.value)
