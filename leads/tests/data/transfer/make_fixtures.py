"""Writes the awkward real-world import files of this folder (run it again to regenerate them).

python leads/tests/data/transfer/make_fixtures.py
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write(name: str, data: bytes) -> None:
    (HERE / name).write_bytes(data)


def csv_files() -> None:
    # UTF-8 with a byte-order mark, headers with stray spaces and odd case, accents.
    write(
        "utf8_bom.csv",
        "\ufeff First Name ,LAST NAME, E-Mail ,Phone,Company\r\n"
        "José,Müller,jose.muller@acme.example,+44 20 7946 0001,Acme Ltd\r\n"
        "Zoë,Ånström,zoe@acme.example,020 7946 0002,Acme Ltd\r\n".encode(),
    )
    # UTF-16 with BOM, tab separated: Excel's "Unicode Text".
    write(
        "utf16_tab.txt",
        "first_name\tlast_name\temail\tcompany_name\r\nRenée\tLefèvre\trenee@lefevre.example\tÉtoile SA\r\n"
        "Łukasz\tWójcik\tlukasz@wojcik.example\tKraków sp\r\n".encode("utf-16"),
    )
    # Windows-1252 (no BOM), semicolon separated: a European Excel "CSV".
    write(
        "cp1252_semicolon.csv",
        "First name;Last name;Email;Company;Need\r\n"
        "Jürgen;Weiß;jurgen@weiss.example;Bäckerei Weiß GmbH;“Grüße” – 5 €\r\n"
        "Ana;Peña;ana@pena.example;Señor Café;\r\n".encode("cp1252"),
    )
    # Latin-1 only (byte 0x81 is undefined in Windows-1252, so only Latin-1 reads it).
    write(
        "latin1.csv",
        b"first_name,last_name,email\r\nFran\xe7ois,Dupr\xe9\x81,francois@dupre.example\r\n",
    )
    # Tab separated, UTF-8 without BOM.
    write(
        "tab.tsv",
        b"Email\tFirst name\tLast name\tJob title\nkim@tab.example\tKim\tTab\tCTO\nlee@tab.example\tLee\tTab\tCFO\n",
    )
    # Quoted values holding delimiters, quotes and newlines (one record spans three lines).
    write(
        "quoted_newlines.csv",
        b"email,first_name,last_name,need\r\n"
        b'quinn@quote.example,Quinn,"O\'Quote","Line one\r\nline two, with a comma\r\nand ""quotes"""\r\n'
        b"rory@quote.example,Rory,Plain,Nothing special\r\n",
    )
    # Ragged rows: row 3 has an extra value, row 4 is one value short.
    write(
        "ragged.csv",
        b"email,first_name,last_name\n"
        b"ok@ragged.example,Olga,Ok\n"
        b"long@ragged.example,Lars,Long,EXTRA\n"
        b"short@ragged.example,Sam\n"
        b"fine@ragged.example,Fay,Fine,,\n",
    )
    # Two columns called Email.
    write(
        "duplicate_headers.csv",
        b"Email,First name,email\nd1@dup.example,Dana,d1-alt@dup.example\n",
    )
    # Empty trailing rows (blank lines and rows of empty cells) after the data.
    write(
        "trailing_empty_rows.csv",
        b"email,first_name,last_name\r\nt1@trail.example,Tia,One\r\nt2@trail.example,Tom,Two\r\n,,\r\n\r\n,,\r\n\r\n",
    )
    # A column that matches no lead field.
    write("unknown_header.csv", b"email,first_name,Favourite colour\nu1@unknown.example,Uma,teal\n")
    # A status that exists only in the other company.
    write(
        "status_other_company.csv",
        b"email,first_name,status\ns1@status.example,Sara,New\ns2@status.example,Sven,Negotiation\n",
    )
    # Ten good rows and a bad one at the very end.
    rows = [f"good{i}@batch.example,Good{i},Row,+44 20 7946 {1000 + i}" for i in range(1, 11)]
    write(
        "bad_last_row.csv",
        ("email,first_name,last_name,phone\n" + "\n".join(rows) + "\nnot-an-email,Bad,Row,12\n").encode(),
    )
    write("good.csv", ("email,first_name,last_name,phone\n" + "\n".join(rows) + "\n").encode())
    write("empty.csv", b"")
    # A PNG renamed to .csv.
    write("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" * 20)


def json_files() -> None:
    write("not_a_list.json", json.dumps({"leads": [{"email": "x@y.example"}]}).encode())
    write(
        "list_of_objects.json",
        json.dumps(
            [
                {"email": "j1@json.example", "first_name": "Jo", "last_name": "Json", "gdpr_consent": True},
                {"email": "j2@json.example", "first_name": "Jay", "last_name": "Json", "score": 99},
                "not an object",
            ],
            ensure_ascii=False,
        ).encode(),
    )
    profiles = [
        {
            "name": "Ana Souza",
            "headline": "Head of Growth at Acme",
            "company": "Acme Ltd",
            "profile_url": "https://www.linkedin.com/in/ana-souza/",
            "country": "GB",
            "skills": ["SaaS"],
            "source": "linkedin",
        },
        {"first_name": "Bo", "last_name": "Berg", "company": {"name": "Berg AB"}, "email": "bo@berg.example"},
        {"name": "No Contact", "headline": "Ghost"},
    ]
    lines = [json.dumps(p, ensure_ascii=False) for p in profiles]
    write("profiles.jsonl", ("\n".join(lines[:2]) + "\n\n" + lines[2] + "\n{not json\n").encode())


def xlsx_files() -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Email", "First name", "Last name", "Phone", "Opt-in date", "GDPR consent", "Budget range"])
    sheet.append(["xl1@excel.example", "Xavier", "Lane", 7911123456, dt.datetime(2024, 3, 1), True, 25000.0])
    sheet.append(["xl2@excel.example", "Yara", "Lane", "+44 7911 123457", dt.datetime(2024, 3, 2, 14, 30), False, 1.5])
    sheet.append([None, None, None, None, None, None, None])
    book.save(HERE / "dates_numbers.xlsx")

    book = Workbook()
    sheet = book.active
    sheet.append(["Email", "First name", "Budget range"])
    sheet.append(["f1@formula.example", "Fia", 100])
    sheet.append(["f2@formula.example", "Finn", "=SUM(C2:C2)*2"])
    book.save(HERE / "formula.xlsx")

    # A zip bomb dressed as a workbook: 64 MB of zeros deflated to ~64 KB.
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(64):
                member.write(block)
    write("zip_bomb.xlsx", out.getvalue())


if __name__ == "__main__":
    csv_files()
    json_files()
    xlsx_files()
    print("\n".join(sorted(p.name for p in HERE.iterdir() if p.name != Path(__file__).name)))
