"""The catalogue models and how goodsassoc reads them through the demo's settings."""

from goodsassoc import hosts


def test_category_path_lists_department_category_and_type(catalogue):
    chips, salsa, bananas = catalogue
    assert chips.category_path == ["Grocery", "Bag Snacks", "Tortilla/Nacho Chips"]
    assert salsa.category_path == ["Grocery", "Bag Snacks"]
    assert bananas.category_path == ["Produce", "Tropical Fruit"]


def test_goodsassoc_reads_the_demo_product(catalogue):
    info = hosts.get_adapter().describe(catalogue[0])
    assert info.key == str(catalogue[0].pk)
    assert info.title == "Tortilla/Nacho Chips 11.5 oz"
    assert tuple(info.category_path) == ("Grocery", "Bag Snacks", "Tortilla/Nacho Chips")
    assert info.brand == "National"
    assert info.manufacturer == "Manufacturer 69"
    assert info.price == 2.5
    assert info.available is True


def test_goodsassoc_uses_the_demo_models(catalogue, stores):
    assert hosts.product_model().__name__ == "Product"
    assert hosts.all_product_keys() == {str(p.pk) for p in catalogue}
    assert hosts.all_shop_keys() == {str(s.pk) for s in stores}
