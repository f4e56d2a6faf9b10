Attribute VB_Name = "kpibook"
' kpibook ribbon macros for desktop Excel with the (BSD) xlwings add-in installed.
'
' Each macro posts the active workbook to the kpibook server with xlwings' RunRemotePython and
' lets xlwings apply the actions the server returns. Requires a VBA reference to "xlwings"
' (VBA editor > Tools > References), see docs/vba.md.
'
' Configuration, first found wins:
'   base URL: environment variable KPIBOOK_URL, the workbook name kb_base_url, or the cell next
'             to "base_url" on the sheet "kpibook.conf"
'   token   : environment variable KPIBOOK_TOKEN, the workbook name kb_token, or the cell next
'             to "token" on the sheet "kpibook.conf"
' Prefer the environment variable for the token: a token typed into the workbook travels with
' every copy of the file. The sheet "kpibook.conf" is never sent to the server (exclude:=).
'
' Protected sheets: kpibook's templates protect the output sheets (scores, summary,
' adjustments) without a password, and Excel refuses the server's writes there. Around
' RunRemotePython every sheet holding a kpibook table (a ListObject named kb_...) that is
' protected without a password is unprotected, and protected again afterwards with the same
' flags, also when something fails. A sheet protected with a password stops the macro before
' anything is sent or written.
'
' This file is pure ASCII (VBA imports .bas files in the system code page, which would garble
' UTF-8): Chinese texts are written as Zh("\u....") escapes.
Option Explicit


Private Const CONFIG_SHEET As String = "kpibook.conf"
' Scoring a large workbook can take longer than xlwings' default of 30 s.
Private Const TIMEOUT_MS As Long = 180000
' kpibook's own tables are named kb_scores, kb_summary, kb_meta, ...
Private Const KPI_TABLE_PREFIX As String = "kb_"

' Positions in the array ProtectionState returns (one per unprotected sheet).
Private Const PS_SHEET As Long = 0
Private Const PS_DRAWING_OBJECTS As Long = 1
Private Const PS_CONTENTS As Long = 2
Private Const PS_SCENARIOS As Long = 3
Private Const PS_USER_INTERFACE_ONLY As Long = 4
Private Const PS_FORMATTING_CELLS As Long = 5
Private Const PS_FORMATTING_COLUMNS As Long = 6
Private Const PS_FORMATTING_ROWS As Long = 7
Private Const PS_INSERTING_COLUMNS As Long = 8
Private Const PS_INSERTING_ROWS As Long = 9
Private Const PS_INSERTING_HYPERLINKS As Long = 10
Private Const PS_DELETING_COLUMNS As Long = 11
Private Const PS_DELETING_ROWS As Long = 12
Private Const PS_SORTING As Long = 13
Private Const PS_FILTERING As Long = 14
Private Const PS_PIVOT_TABLES As Long = 15
Private Const PS_ENABLE_SELECTION As Long = 16

' New period needs the month the person chooses: an InputBox asks for it (this month is
' filled in) and it is sent as ?period=; the server checks it and says why when it is not one.
' Cancel (or an empty answer) sends nothing. Scripts call KpiNewPeriodFor "2026-11" instead.
Public Sub KpiNewPeriod()
    Dim period As String
    period = Trim$(InputBox(Zh("\u8BF7\u8F93\u5165\u8981\u65B0\u5EFA\u7684\u8003\u6838\u671F\u95F4\uFF08\u5982 2026-11\uFF0C\u4E5F\u53EF 2026-Q4 \u6216 2026\uFF09\uFF1A") & vbCrLf & _
        "Period to create (e.g. 2026-11; 2026-Q4 or 2026 work too):", _
        Zh("\u65B0\u5EFA\u671F\u95F4") & " / New period", Format$(Date, "yyyy-mm")))
    If period = "" Then Exit Sub
    KpiNewPeriodFor period
End Sub

' New period for `period` without asking, e.g. from a macro of HR's own.
Public Sub KpiNewPeriodFor(ByVal period As String)
    RunKpiButton "new_period?period=" & Application.WorksheetFunction.EncodeURL(period)
End Sub

Public Sub KpiPullData()
    RunKpiButton "pull"
End Sub

Public Sub KpiScore()
    RunKpiButton "score"
End Sub

Public Sub KpiCheck()
    RunKpiButton "check"
End Sub

Public Sub KpiSubmit()
    RunKpiButton "submit"
End Sub

' Read only: writes the period's results of record (appeal answers included), in any period
' state; nothing changes on the server.
Public Sub KpiRefresh()
    RunKpiButton "refresh"
End Sub

' Opens {base}/review in the default browser.
Public Sub KpiOpenReview()
    Dim baseUrl As String
    baseUrl = KpiSetting("KPIBOOK_URL", "kb_base_url", "base_url")
    If baseUrl = "" Then Exit Sub
    ActiveWorkbook.FollowHyperlink Address:=baseUrl & "/review", NewWindow:=True
End Sub

' Posts the active workbook to {base}/xl/{button}. On a non-200 reply xlwings shows the
' server's text in a message box; on 200 it runs the returned actions.
Private Sub RunKpiButton(ByVal button As String)
    Dim baseUrl As String, token As String
    baseUrl = KpiSetting("KPIBOOK_URL", "kb_base_url", "base_url")
    If baseUrl = "" Then Exit Sub
    token = KpiSetting("KPIBOOK_TOKEN", "kb_token", "token")
    If token = "" Then Exit Sub

    Dim book As Workbook, unprotected As Collection, passwordSheet As String
    Set book = ActiveWorkbook ' the workbook RunRemotePython sends and writes to
    Set unprotected = New Collection

    Dim previousCursor As XlMousePointer
    previousCursor = Application.Cursor
    Application.Cursor = xlWait
    Application.StatusBar = "kpibook: " & button & "..."
    On Error GoTo Failed
    passwordSheet = UnprotectKpiSheets(book, unprotected)
    If passwordSheet <> "" Then
        MsgBox Zh("kpibook\uFF1A\u5DE5\u4F5C\u8868\u201C") & passwordSheet & Zh("\u201D\u8BBE\u7F6E\u4E86\u5BC6\u7801\u4FDD\u62A4\uFF0Ckpibook \u65E0\u6CD5\u5199\u5165\uFF0C\u672C\u6B21\u672A\u505A\u4EFB\u4F55\u66F4\u6539\u3002") & _
            Zh("\u8BF7\u64A4\u9500\u8BE5\u5DE5\u4F5C\u8868\u7684\u4FDD\u62A4\uFF08\u5BA1\u9605 > \u64A4\u9500\u5DE5\u4F5C\u8868\u4FDD\u62A4\uFF09\u540E\u91CD\u8BD5\u3002") & vbCrLf & _
            "kpibook: the sheet """ & passwordSheet & """ is protected with a password, so kpibook " & _
            "cannot write to it. Nothing was changed. Unprotect it (Review > Unprotect Sheet) and " & _
            "try again.", vbExclamation, "kpibook"
        GoTo Done
    End If
    RunRemotePython baseUrl & "/xl/" & button, _
        auth:="Bearer " & token, _
        exclude:=CONFIG_SHEET, _
        timeout:=TIMEOUT_MS
Done:
    ' ProtectAgain never raises (it reports its own failures), so this cannot loop into Failed.
    ProtectAgain unprotected
    Application.Cursor = previousCursor
    Application.StatusBar = False
    Exit Sub
Failed:
    MsgBox "kpibook: " & Err.Description, vbCritical, "kpibook"
    Resume Done
End Sub

' Unprotects every protected sheet of `book` that holds a kpibook table and adds what is needed
' to protect it again (ProtectionState) to `unprotected`. Returns "" on success. When a sheet is
' protected with a password, protects the sheets unprotected so far again and returns that
' sheet's name: nothing may be sent or written then.
Private Function UnprotectKpiSheets(ByVal book As Workbook, ByVal unprotected As Collection) As String
    Dim sheet As Worksheet, state As Variant, refused As Boolean
    For Each sheet In book.Worksheets
        If IsProtected(sheet) And HasKpiTable(sheet) Then
            state = ProtectionState(sheet)
            ' An explicit empty password: without the argument Excel would prompt for one.
            On Error Resume Next
            sheet.Unprotect Password:=""
            refused = (Err.Number <> 0)
            On Error GoTo 0
            If refused Or IsProtected(sheet) Then
                ProtectAgain unprotected
                UnprotectKpiSheets = sheet.Name
                Exit Function
            End If
            unprotected.Add state
        End If
    Next sheet
End Function

' Protects the sheets again exactly as they were and empties `unprotected`. Reports failures in
' a message box instead of raising, so that it is safe to call from error handling.
Private Sub ProtectAgain(ByVal unprotected As Collection)
    Dim state As Variant, sheet As Worksheet, failedSheets As String
    Do While unprotected.Count > 0
        state = unprotected(1)
        unprotected.Remove 1
        Set sheet = state(PS_SHEET)
        On Error Resume Next
        sheet.Protect Password:="", _
            DrawingObjects:=state(PS_DRAWING_OBJECTS), _
            Contents:=state(PS_CONTENTS), _
            Scenarios:=state(PS_SCENARIOS), _
            UserInterfaceOnly:=state(PS_USER_INTERFACE_ONLY), _
            AllowFormattingCells:=state(PS_FORMATTING_CELLS), _
            AllowFormattingColumns:=state(PS_FORMATTING_COLUMNS), _
            AllowFormattingRows:=state(PS_FORMATTING_ROWS), _
            AllowInsertingColumns:=state(PS_INSERTING_COLUMNS), _
            AllowInsertingRows:=state(PS_INSERTING_ROWS), _
            AllowInsertingHyperlinks:=state(PS_INSERTING_HYPERLINKS), _
            AllowDeletingColumns:=state(PS_DELETING_COLUMNS), _
            AllowDeletingRows:=state(PS_DELETING_ROWS), _
            AllowSorting:=state(PS_SORTING), _
            AllowFiltering:=state(PS_FILTERING), _
            AllowUsingPivotTables:=state(PS_PIVOT_TABLES)
        If Err.Number = 0 Then sheet.EnableSelection = state(PS_ENABLE_SELECTION)
        If Err.Number <> 0 Then failedSheets = failedSheets & " '" & sheet.Name & "'"
        Err.Clear
        On Error GoTo 0
    Loop
    If failedSheets <> "" Then
        MsgBox Zh("kpibook\uFF1A\u65E0\u6CD5\u91CD\u65B0\u4FDD\u62A4\u5DE5\u4F5C\u8868") & failedSheets & Zh("\uFF0C\u8BF7\u624B\u52A8\u4FDD\u62A4\uFF08\u5BA1\u9605 > \u4FDD\u62A4\u5DE5\u4F5C\u8868\uFF09\u3002") & vbCrLf & _
            "kpibook: could not protect the sheet(s)" & failedSheets & " again; please protect " & _
            "them (Review > Protect Sheet).", vbExclamation, "kpibook"
    End If
End Sub

' The sheet and its protection flags, indexed by the PS_ constants.
Private Function ProtectionState(ByVal sheet As Worksheet) As Variant
    With sheet.Protection
        ProtectionState = Array(sheet, sheet.ProtectDrawingObjects, sheet.ProtectContents, _
            sheet.ProtectScenarios, sheet.ProtectionMode, _
            .AllowFormattingCells, .AllowFormattingColumns, .AllowFormattingRows, _
            .AllowInsertingColumns, .AllowInsertingRows, .AllowInsertingHyperlinks, _
            .AllowDeletingColumns, .AllowDeletingRows, .AllowSorting, .AllowFiltering, _
            .AllowUsingPivotTables, sheet.EnableSelection)
    End With
End Function

Private Function IsProtected(ByVal sheet As Worksheet) As Boolean
    IsProtected = sheet.ProtectContents Or sheet.ProtectDrawingObjects Or sheet.ProtectScenarios
End Function

' True when the sheet holds a table kpibook writes (its name starts with kb_).
Private Function HasKpiTable(ByVal sheet As Worksheet) As Boolean
    Dim table As ListObject
    For Each table In sheet.ListObjects
        If LCase$(Left$(table.Name, Len(KPI_TABLE_PREFIX))) = KPI_TABLE_PREFIX Then
            HasKpiTable = True
            Exit Function
        End If
    Next table
End Function

' Reads a setting from the environment, a workbook name, or the config sheet; tells the user
' where to put it when it is missing. Trailing slashes are removed from URLs.
Private Function KpiSetting(ByVal envName As String, ByVal workbookName As String, ByVal key As String) As String
    Dim value As String
    value = Trim$(Environ$(envName))
    If value = "" Then value = NamedValue(workbookName)
    If value = "" Then value = ConfigSheetValue(key)
    Do While Right$(value, 1) = "/"
        value = Left$(value, Len(value) - 1)
    Loop
    If value = "" Then
        MsgBox "kpibook: please set " & key & " (environment variable " & envName & _
            ", the name " & workbookName & ", or the sheet '" & CONFIG_SHEET & "')." & vbCrLf & _
            Zh("kpibook\uFF1A\u8BF7\u8BBE\u7F6E ") & key & Zh("\uFF08\u73AF\u5883\u53D8\u91CF ") & envName & Zh("\u3001\u540D\u79F0 ") & workbookName & _
            Zh(" \u6216\u5DE5\u4F5C\u8868 '") & CONFIG_SHEET & Zh("'\uFF09\u3002"), vbExclamation, "kpibook"
    End If
    KpiSetting = value
End Function

Private Function NamedValue(ByVal workbookName As String) As String
    On Error Resume Next
    NamedValue = Trim$(CStr(ActiveWorkbook.Names(workbookName).RefersToRange.Value))
    On Error GoTo 0
End Function

Private Function ConfigSheetValue(ByVal key As String) As String
    Dim sheet As Worksheet, found As Range
    On Error Resume Next
    Set sheet = ActiveWorkbook.Worksheets(CONFIG_SHEET)
    On Error GoTo 0
    If sheet Is Nothing Then Exit Function
    Set found = sheet.Columns(1).Find(What:=key, LookIn:=xlValues, LookAt:=xlWhole, MatchCase:=False)
    If Not found Is Nothing Then ConfigSheetValue = Trim$(CStr(found.Offset(0, 1).Value))
End Function

' Decodes "\uXXXX" escapes (4 hex digits), so that Chinese texts survive any system code page.
Private Function Zh(ByVal escaped As String) As String
    Dim position As Long, result As String
    position = 1
    Do While position <= Len(escaped)
        If Mid$(escaped, position, 2) = "\u" Then
            result = result & ChrW$(CLng("&H" & Mid$(escaped, position + 2, 4)))
            position = position + 6
        Else
            result = result & Mid$(escaped, position, 1)
            position = position + 1
        End If
    Loop
    Zh = result
End Function
