"""8-bit import files in code pages other than Windows-1252 (Polish, Cyrillic, …) are detected and
read letter for letter; Western European files stay Windows-1252."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leads.models import ImportStatus, Lead
from leads.testing.factories import make_campaign
from leads.transfer.jobs import import_job_create, import_job_start
from leads.transfer.mapping import ImportOptions
from leads.transfer.reading import detect_8bit, parse_file

POLISH = [
    ("Krzysztof", "Wiśniewski", "Łódź Logistyka"),
    ("Łukasz", "Wójcik", "Zażółć gęślą jaźń sp. z o.o."),
    ("Agnieszka", "Kowalczyk", "Piekarnia Żytnia"),
    ("Paweł", "Lewandowski", "Łódź Logistyka"),
    ("Małgorzata", "Dąbrowska", "Kraków Software"),
    ("Tomasz", "Zieliński", "Gdańsk Port"),
    ("Katarzyna", "Szymańska", "Poznań Meble"),
    ("Michał", "Woźniak", "Wrocław IT"),
    ("Joanna", "Kozłowska", "Szczecin Stal"),
    ("Piotr", "Jankowski", "Białystok Foods"),
    ("Zażółć", "Jaźń", "Gęślą S.A."),
    ("Grzegorz", "Brzęczyszczykiewicz", "Chrząszczyżewoszyce"),
    ("Ewa", "Mazur", "Łódź"),
    ("Marek", "Krawczyk", "Częstochowa Druk"),
    ("Anna", "Nowak", "Toruń Pierniki"),
    ("Jakub", "Wróbel", "Rzeszów Lotnictwo"),
    ("Zofia", "Kamińska", "Bydgoszcz Chemia"),
    ("Stanisław", "Górski", "Kielce Targi"),
    ("Bożena", "Pawłowska", "Opole Ceramika"),
    ("Jerzy", "Kaczmarek", "Zielona Góra Wino"),
]
RUSSIAN = [
    ("Иван", "Петров", "ООО Ромашка"),
    ("Мария", "Сидорова", "АО Северсталь"),
    ("Алексей", "Смирнов", "ЗАО Вектор"),
    ("Ольга", "Кузнецова", "ООО Лютик"),
    ("Дмитрий", "Попов", "ИП Попов"),
    ("Екатерина", "Васильева", "ООО Альфа"),
    ("Сергей", "Соколов", "ПАО Газ"),
    ("Наталья", "Михайлова", "ООО Бета"),
    ("Андрей", "Новиков", "АО Гамма"),
    ("Юлия", "Фёдорова", "ООО Дельта"),
    ("Николай", "Морозов", "ООО Эпсилон"),
    ("Татьяна", "Волкова", "ЗАО Зета"),
    ("Павел", "Алексеев", "ООО Эта"),
    ("Елена", "Лебедева", "ООО Тета"),
    ("Михаил", "Семёнов", "АО Йота"),
    ("Анна", "Егорова", "ООО Каппа"),
    ("Владимир", "Павлов", "ООО Лямбда"),
    ("Ирина", "Козлова", "АО Мю"),
    ("Артём", "Степанов", "ООО Ню"),
    ("Светлана", "Николаева", "ООО Кси"),
]
WESTERN = [
    ("François", "Dupré", "Société Générale"),
    ("Jürgen", "Weiß", "Bäckerei Weiß GmbH"),
    ("Zoë", "Ånström", "Ålesund AS"),
    ("Renée", "Lefèvre", "Étoile SA"),
    ("Ana", "Peña", "Señor Café"),
    ("Hélène", "Côté", "Crème Brûlée SARL"),
    ("Dieter", "Schröder", "Größe & Söhne"),
    ("Noël", "Gaël", "Forêt Verte"),
    ("Bjørn", "Ødegård", "Fjørd AS"),
    ("José", "García", "Niño y Cía"),
    ("Françoise", "Lemaître", "Maître Café"),
    ("Günther", "Köhler", "Köln Büro"),
    ("Agnès", "Béranger", "Château Neuf"),
    ("Søren", "Kierkegård", "Østerbro ApS"),
    ("Inés", "Muñoz", "Año Nuevo"),
    ("Jérôme", "Boulé", "Île de France"),
    ("Ulrich", "Fuß", "Straße 5 – “Grüße”"),
    ("Chloé", "Dubœuf", "Œuvre SA"),
    ("Mårten", "Åberg", "Skåne AB"),
    ("Raphaël", "Lévêque", "Pâtisserie Noël – 5 €"),
]


def csv_text(people, *, delimiter=";", ascii_rows: int = 0) -> str:
    """A spreadsheet's "CSV": a header, ``ascii_rows`` plain rows, then the people."""
    header = delimiter.join(["First name", "Last name", "Email", "Company"])
    plain = [delimiter.join(["Plain", f"Row{n}", f"plain{n}@example.com", "Acme Ltd"]) for n in range(ascii_rows)]
    rows = [
        delimiter.join([first, last, f"lead{n}@example.com", company])
        for n, (first, last, company) in enumerate(people)
    ]
    return "\r\n".join([header, *plain, *rows]) + "\r\n"


def write(tmp_path, name: str, text: str, encoding: str):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def parse(path):
    with open(path, "rb") as handle:
        return parse_file(handle, path.name)


@pytest.mark.parametrize(
    ("people", "written_in", "reported"),
    [
        (POLISH, "cp1250", "cp1250"),
        (POLISH, "iso8859_2", "iso8859-2"),
        (RUSSIAN, "cp1251", "cp1251"),
        (RUSSIAN, "koi8_r", "koi8-r"),
        (WESTERN, "cp1252", "cp1252"),
    ],
)
def test_an_8bit_file_is_read_in_its_own_code_page(tmp_path, people, written_in, reported):
    parsed = parse(write(tmp_path, "people.csv", csv_text(people), written_in))
    assert (parsed.encoding, parsed.delimiter, len(parsed.rows)) == (reported, ";", 20)
    assert [tuple(cells[i] for i in (0, 1, 3)) for _, cells in parsed.rows] == people


def test_western_european_text_is_not_taken_for_central_european():
    """Windows-1250 decodes most of these bytes too (as other letters): Windows-1252 fits as well,
    so it stays the answer."""
    assert detect_8bit(csv_text(WESTERN).encode("cp1252")) is None
    assert detect_8bit(csv_text(POLISH).encode("cp1250")) == "cp1250"


def test_the_letters_are_found_however_far_into_a_big_file_they_start(tmp_path):
    text = csv_text(POLISH, ascii_rows=3000)
    assert text.index("Ł") > 100_000
    parsed = parse(write(tmp_path, "late.csv", text, "cp1250"))
    assert (parsed.encoding, parsed.rows[-1]) == (
        "cp1250",
        (3021, ["Jerzy", "Kaczmarek", "lead19@example.com", "Zielona Góra Wino"]),
    )


def test_too_little_text_to_tell_stays_windows_1252(tmp_path):
    parsed = parse(write(tmp_path, "one.csv", "first_name;last_name\r\nJosé;Müller\r\n", "cp1252"))
    assert (parsed.encoding, parsed.rows) == ("cp1252", [(2, ["José", "Müller"])])


def test_json_in_a_code_page_is_detected_too(tmp_path):
    items = ",".join(f'{{"first_name": "{first}", "last_name": "{last}"}}' for first, last, _ in RUSSIAN)
    parsed = parse(write(tmp_path, "people.json", f"[{items}]", "cp1251"))
    assert (parsed.encoding, [cells for _, cells in parsed.rows][:2]) == (
        "cp1251",
        [["Иван", "Петров"], ["Мария", "Сидорова"]],
    )


@pytest.mark.parametrize(("people", "written_in"), [(POLISH, "cp1250"), (RUSSIAN, "cp1251")])
def test_an_import_in_a_code_page_creates_leads_with_the_original_names(cast, people, written_in):
    upload = SimpleUploadedFile("people.csv", csv_text(people).encode(written_in))
    job = import_job_create(company=cast.a.company, actor=cast.a.manager, upload=upload,
                            options=ImportOptions(campaign_id=make_campaign(cast.a.company, "Imports").pk))  # fmt: skip
    assert (job.encoding, job.mapping) == (written_in, ["first_name", "last_name", "email", "company_name"])
    job = import_job_start(job=job, actor=cast.a.manager)
    assert (job.status, job.created_count, job.errors) == (ImportStatus.SUCCEEDED, 20, [])
    leads = Lead.objects.filter(company=cast.a.company).order_by("email")
    assert sorted(leads.values_list("first_name", "last_name", "company_name")) == sorted(people)
