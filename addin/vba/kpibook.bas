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
Option Explicit

Private Const CONFIG_SHEET As String = "kpibook.conf"
' Scoring a large workbook can take longer than xlwings' default of 30 s.
Private Const TIMEOUT_MS As Long = 180000

Public Sub KpiNewPeriod()
    RunKpiButton "new_period"
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

    Dim previousCursor As XlMousePointer
    previousCursor = Application.Cursor
    Application.Cursor = xlWait
    Application.StatusBar = "kpibook: " & button & "..."
    On Error GoTo Failed
    RunRemotePython baseUrl & "/xl/" & button, _
        auth:="Bearer " & token, _
        exclude:=CONFIG_SHEET, _
        timeout:=TIMEOUT_MS
Done:
    Application.Cursor = previousCursor
    Application.StatusBar = False
    Exit Sub
Failed:
    MsgBox "kpibook: " & Err.Description, vbCritical, "kpibook"
    Resume Done
End Sub

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
            "kpibook：请设置 " & key & "（环境变量 " & envName & "、名称 " & workbookName & _
            " 或工作表 '" & CONFIG_SHEET & "'）。", vbExclamation, "kpibook"
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
