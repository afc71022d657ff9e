"""Dispute report text in the default layout, as a processor's export prints it."""

from __future__ import annotations

HEADER = ("Case Number,Original Case Number,Stage,Activity Date,Card Type,Reason Code,Reason Text,Case Amount,"
          "Transaction Amount,Transaction Date,Account Number,Authorization Code,Merchant Order Number,"
          "Acquirer Reference Number,Network Due Date,Merchant Due Date,Case Fee")
PREAMBLE = "Report Name=Chargeback Detail,Merchant=000123456789\nDate Range=11/01/2026 - 11/30/2026\n"
TRAILER = "Total Records=6,\nEND OF REPORT\n"


def report(*rows: str, preamble: str = PREAMBLE, trailer: str = TRAILER) -> bytes:
    return (preamble + HEADER + "\n" + "\n".join(rows) + "\n" + trailer).encode()


RETRIEVAL = "R100,,Retrieval Request,11/02/2026,VI,13.1,Merchandise not received,120.00,120.00,10/28/2026," \
            "402155XXXXXX1111,A1B2C3,INV-1001,7400000001,,11/20/2026,"
CHARGEBACK = "C200,,CHARGEBACK,11/03/2026,MC,4837,No cardholder authorization,\"(1,250.00)\",\"1,250.00\"," \
             "10/30/2026,540011XXXXXX2222,Z9Y8X7,,7400000002,12/18/2026,12/10/2026,15.00"
REPRESENTMENT = "C200,,Representment,11/06/2026,MC,4837,No cardholder authorization,1250.00,1250.00,10/30/2026," \
                "540011XXXXXX2222,Z9Y8X7,,7400000002,,,"
WON = "C200,,Won,11/20/2026,MC,4837,No cardholder authorization,1250.00,1250.00,10/30/2026,540011XXXXXX2222," \
      "Z9Y8X7,,7400000002,,,"
PRE_ARB = "P300,C200,Pre-Arbitration,11/25/2026,MC,4837,No cardholder authorization,1250.00,1250.00,10/30/2026," \
          "540011XXXXXX2222,Z9Y8X7,,7400000002,01/09/2027,12/31/2026,"
LOST_CB = "C400,,Chargeback,11/04/2026,VI,10.4,Other fraud card-absent,80.00,80.00,11/01/2026," \
          "402155XXXXXX3333,,INV-1004,7400000004,12/04/2026,11/28/2026,"
LOST = "C400,,Lost,11/29/2026,VI,10.4,Other fraud card-absent,80.00,80.00,11/01/2026,402155XXXXXX3333,,INV-1004," \
       "7400000004,,,"
