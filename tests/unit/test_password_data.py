"""The password rules' data files are what infra/password_data.py makes from their sources."""
import gzip

from infra import password_data


def test_the_committed_data_files_are_what_the_script_makes_from_its_sources():
    for path, content in password_data.built().items():
        assert path.read_bytes() == content, (
            f"{path.name} differs from its sources: run `python -m infra.password_data`")


def test_the_look_alike_table_maps_cyrillic_greek_and_cherokee_letters_to_latin():
    table = password_data.look_alikes()
    assert table["\u0430"] == "a" and table["\u0435"] == "e" and table["\u043e"] == "o"  # а е о
    assert table["\u03bf"] == "o" and table["\u03b9"] == "i"                            # ο ι
    assert table[password_data._nfkc_folded("\u13aa")] == "a"                          # Ꭺ
    assert all(target.isascii() and target.isalnum() for target in table.values())
    assert not any(source.isascii() for source in table)


def test_the_word_list_is_small_for_the_lambda_package_and_folded():
    packed = password_data.COMMON_WORDS.read_bytes()
    assert len(packed) < 300 * 1024
    words = gzip.decompress(packed).decode("ascii").split()
    assert words == sorted(set(words))
    assert min(map(len, words)) == password_data.MIN_WORD_LENGTH
